"""File plumbing for ``safehold bank import`` / ``export``: input, private output, tallies.

Bank files can hold millions of rows, so input is streamed (progress follows the bytes read),
and exported hash lists are confidential, so an output file is created readable by its owner
only.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from safehold.banks.formats import ReadItem
from safehold.banks.models import NewEntry
from safehold.errors import FormatError

MAX_ERRORS_KEPT = 20
PROGRESS_EVERY = 4096  # rows between progress updates


class ImportTally:
    """Passes good entries through, counting them and keeping the first bad rows.

    Attributes:
        valid: good rows seen.
        bad: bad rows seen.
        errors: the first :data:`MAX_ERRORS_KEPT` bad rows (messages carry line numbers).
    """

    def __init__(self) -> None:
        self.valid = 0
        self.bad = 0
        self.errors: list[FormatError] = []

    def entries(
        self, items: Iterable[ReadItem], tick: Callable[[int], None] | None = None
    ) -> Iterator[NewEntry]:
        """Yield the good entries of ``items``; call ``tick(rows_so_far)`` now and then."""
        for n, item in enumerate(items, start=1):
            if isinstance(item, FormatError):
                self.bad += 1
                if len(self.errors) < MAX_ERRORS_KEPT:
                    self.errors.append(item)
            else:
                self.valid += 1
                yield item
            if tick is not None and n % PROGRESS_EVERY == 0:
                tick(n)


def progress_bar(console: Console) -> Progress:
    """A transient Rich progress bar (percentage when the total is known) on ``console``."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def open_input(path: str) -> tuple[TextIO, io.BufferedReader | None, int | None]:
    """Open ``path`` (``-`` = stdin) as UTF-8 text (a BOM is dropped, undecodable bytes become
    U+FFFD so the row fails validation instead of the whole file).

    Returns:
        ``(text, binary, size)``: the text stream, the byte stream under it (its ``tell()`` is
        the progress) and the size in bytes; ``binary`` and ``size`` are None for stdin.

    Raises:
        OSError: the file cannot be opened.
    """
    if path == "-":
        return sys.stdin, None, None
    binary = open(path, "rb")  # noqa: SIM115 (the caller closes the text wrapper)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    return text, binary, os.fstat(binary.fileno()).st_size


def open_private_output(path: Path) -> TextIO:
    """Create or truncate ``path`` with mode 0600 (owner read/write only), for hash lists.

    Raises:
        OSError: the file cannot be created.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_TRUNC
    return open(fd, "w", encoding="utf-8", newline="")
