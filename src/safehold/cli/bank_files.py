"""File plumbing for ``safehold bank import`` / ``export``: input, private output, tallies.

Bank files can hold millions of rows, so input is streamed (progress follows the bytes read)
and decoded strictly, line by line, with a bound on line length. Exported hash lists are
confidential, so an output file is created new, readable by its owner only, never through a
symbolic link, and removed again when the export fails.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from safehold.banks.formats import ReadItem
from safehold.banks.lines import DecodedLines
from safehold.banks.models import NewEntry
from safehold.cli.common import display_path
from safehold.errors import ConflictError, FormatError, InvalidInputError

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


class PrivateOutput:
    """A new file for a hash list, mode 0600; removed again if writing it fails.

    Use as a context manager yielding a text stream. Without ``force`` the file must not exist
    (``O_CREAT | O_EXCL``: a symbolic link there is not followed, it counts as existing). With
    ``force`` an existing regular file is replaced atomically once writing succeeded (the data
    goes to a temporary file in the same folder, renamed over it); a symbolic link or a special
    file at ``path`` is refused, never followed or written through.

    Raises (from ``__enter__``):
        ConflictError: ``path`` exists and ``force`` is not set.
        InvalidInputError: with ``force``, ``path`` is a symbolic link or not a regular file.
        OSError: the file cannot be created.
    """

    def __init__(self, path: Path, *, force: bool = False) -> None:
        self.path = path
        self.force = force
        self._written: str | None = None  # the file we created (temporary with force)
        self._stream: TextIO | None = None

    def __enter__(self) -> TextIO:
        shown = display_path(self.path, markup=False)
        if self.force:
            try:
                st = os.lstat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise InvalidInputError(f"{shown} is a symbolic link; not writing through it")
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise InvalidInputError(f"{shown} is not a regular file; not replacing it")
            folder = os.path.dirname(os.path.abspath(self.path))
            try:
                fd, self._written = tempfile.mkstemp(
                    prefix=f".{self.path.name[:100]}.", suffix=".partial", dir=folder
                )
            except OSError as exc:  # name the file asked for, not the temporary one
                raise OSError(exc.errno, exc.strerror, os.fspath(self.path)) from None
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            try:
                fd = os.open(self.path, flags, 0o600)
            except FileExistsError:
                raise ConflictError(f"{shown} already exists; use --force to replace it") from None
            self._written = os.fspath(self.path)
        os.fchmod(fd, 0o600)
        self._stream = open(fd, "w", encoding="utf-8", newline="")
        return self._stream

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        written = self._written
        if self._stream is None or written is None:
            return
        try:
            self._stream.close()  # flushes: a full disk fails here
        except BaseException:
            self._remove()
            raise
        if exc_type is not None:
            self._remove()
        elif self.force:
            try:
                os.replace(written, self.path)
            except BaseException:
                self._remove()
                raise

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._written or "")
