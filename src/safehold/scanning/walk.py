"""Turn the paths a user names into a deterministic list of files to scan.

Directories are walked depth first with entries sorted by name, so two runs over the same tree
yield the same order. Symbolic links to files are scanned under the link's path; symbolic links
to directories are followed, but a directory already walked (same device and inode, which covers
symlink loops) is not walked again: it is reported as a duplicate, not silently dropped.
Likewise a regular file reached a second time (named twice, named and inside a named folder,
through a symbolic link or a hard link) is scanned once, under the path it was first reached
by; later paths come out flagged ``duplicate_file``.
The only files left out are Safehold's own (the run's outputs and its scan cache, named by
identity in ``exclude``): they come out flagged ``own_file``, so the scan can count them.
Nothing else is skipped: a path that cannot be read, a broken link or a special file (FIFO,
socket, device) becomes an item with an error, which the scan turns into an error record.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass

from safehold.errors import NotFoundError, SafeholdError
from safehold.scanning.errors import UnreadableContentError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WalkItem:
    """One path found by :func:`walk`.

    Attributes:
        path: absolute path, normalised but with symlinks not resolved.
        size: bytes (0 when ``error`` is set).
        mtime_ns: modification time in nanoseconds (0 when ``error`` is set).
        error: why the path cannot be scanned, or None for a regular file.
        duplicate_dir: True for a directory not walked because it was already walked
            (``error`` is None and the item is not a file to scan).
        own_file: True for one of Safehold's own files (in ``exclude``): not a file to scan.
        duplicate_file: True for a regular file already yielded under another path (same
            ``(st_dev, st_ino)``): not scanned again.
    """

    path: str
    size: int = 0
    mtime_ns: int = 0
    error: SafeholdError | None = None
    duplicate_dir: bool = False
    own_file: bool = False
    duplicate_file: bool = False

    @property
    def to_scan(self) -> bool:
        """Whether this item gets a record (a file, or a path with an error)."""
        return not (self.duplicate_dir or self.own_file or self.duplicate_file)


def describe_file_kind(mode: int) -> str:
    """Name the kind of a non-regular, non-directory file (``st_mode``) for error messages."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _os_error(path: str, exc: OSError) -> SafeholdError:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return NotFoundError(f"broken symbolic link: {reason}")
        return NotFoundError("no such file or directory")
    return UnreadableContentError(f"cannot read: {reason}")


def walk(
    paths: Iterable[str | os.PathLike[str]], exclude: Container[tuple[int, int]] = ()
) -> Iterator[WalkItem]:
    """Yield every file under ``paths`` (files or directories), in a deterministic order.

    Named paths are visited in the order given (an exact repeat is visited once); inside a
    directory, entries are visited sorted by name. Yields :class:`WalkItem` with ``error`` set
    for unreadable paths, broken links and special files, ``duplicate_dir`` set for a
    directory reached a second time, ``duplicate_file`` for a regular file reached a second
    time (by identity), and ``own_file`` set for a regular file whose
    ``(st_dev, st_ino)`` is in ``exclude``. Never raises for a bad path (callers refuse an
    empty path first: ``os.path.abspath("")`` is the working directory).
    """
    seen_paths: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if path in seen_paths:
            continue
        seen_paths.add(path)
        yield from _visit(path, seen_dirs, seen_files, exclude)


def _visit(
    top: str,
    seen_dirs: set[tuple[int, int]],
    seen_files: set[tuple[int, int]],
    exclude: Container[tuple[int, int]],
) -> Iterator[WalkItem]:
    # An explicit stack (not recursion): trees deeper than Python's recursion limit still walk.
    stack = [top]
    while stack:
        path = stack.pop()
        try:
            st = os.stat(path)  # follows symlinks
        except OSError as exc:
            yield WalkItem(path, error=_os_error(path, exc))
            continue
        if stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            own = key in exclude
            duplicate = not own and key in seen_files
            seen_files.add(key)
            yield WalkItem(path, st.st_size, st.st_mtime_ns, own_file=own, duplicate_file=duplicate)
            continue
        if not stat.S_ISDIR(st.st_mode):
            error = UnreadableContentError(f"cannot scan: {describe_file_kind(st.st_mode)}")
            yield WalkItem(path, error=error)
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            log.warning("not walking %s again: the same directory was already walked", path)
            yield WalkItem(path, duplicate_dir=True)
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(path) as it:
                names = sorted(entry.name for entry in it)
        except OSError as exc:
            yield WalkItem(path, error=_os_error(path, exc))
            continue
        stack.extend(os.path.join(path, name) for name in reversed(names))


def collect(
    paths: Iterable[str | os.PathLike[str]], exclude: Container[tuple[int, int]] = ()
) -> list[WalkItem]:
    """Return :func:`walk` as a list (the scan needs the total for progress and ETA)."""
    return list(walk(paths, exclude))
