"""File plumbing for ``safehold bank import`` / ``export``: input, private output, tallies.

Bank files can hold millions of rows, so input is streamed (progress follows the bytes read)
and decoded strictly, line by line, with a bound on line length. Exported hash lists are
confidential, so an output file is created new, readable by its owner only, never through a
symbolic link, and removed again when the export fails.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from safehold.banks.formats import ReadItem
from safehold.banks.lines import DecodedLines
from safehold.banks.models import NewEntry
from safehold.errors import FormatError
from safehold.output_files import PrivateOutput

__all__ = ["ImportTally", "PrivateOutput", "open_binary", "open_input", "progress_bar"]

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
    """A transient Rich progress bar (percentage when the total is known) on ``console``;
    disabled when ``console`` is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a pipe or log file gets no bar (nor a blank line)
    )


def open_input(path: str, *, name: str, max_line_bytes: int) -> tuple[DecodedLines, int | None]:
    """Open ``path`` (``-`` = stdin) as strictly decoded UTF-8 lines (see :class:`DecodedLines`).

    Args:
        path: the file, or ``-`` for standard input.
        name: the file's name for messages (terminal-safe).
        max_line_bytes: longest accepted line (``lines.max_line_bytes`` may be changed later).

    Returns:
        ``(lines, size)``: the lines (``lines.binary.tell()`` is the progress) and the size in
        bytes, None for stdin or another stream that is not a regular file.

    Raises:
        OSError: the file cannot be opened.
        InvalidInputError: the file is UTF-16 or UTF-32 text.
    """
    if path == "-":
        return DecodedLines(sys.stdin.buffer, name=name, max_line_bytes=max_line_bytes), None
    binary = open(path, "rb")  # noqa: SIM115 (closed by the caller through lines.binary)
    try:
        st = os.fstat(binary.fileno())
        lines = DecodedLines(binary, name=name, max_line_bytes=max_line_bytes)
    except BaseException:
        binary.close()
        raise
    return lines, st.st_size if stat.S_ISREG(st.st_mode) else None


def open_binary(path: str) -> tuple[BinaryIO, int | None]:
    """Open ``path`` (``-`` = stdin) for reading bytes; return it and its size.

    The size is None for stdin or another stream that is not a regular file. The caller
    closes a file it opened (not stdin).

    Raises:
        OSError: the file cannot be opened.
    """
    if path == "-":
        return sys.stdin.buffer, None
    binary = open(path, "rb")  # noqa: SIM115 (closed by the caller)
    try:
        st = os.fstat(binary.fileno())
    except BaseException:
        binary.close()
        raise
    return binary, st.st_size if stat.S_ISREG(st.st_mode) else None
