"""The one way Safehold writes a file a user named: never through a link, never over a device.

Every command that writes a file (``scan --output`` and ``--html``, ``demo``, ``bank export
--output``) goes through this module, so they share one rule (docs/scanning.md, docs/banks.md):
a symbolic link, device, FIFO, socket or other special file at the target is never followed,
written to or replaced; only a regular file (or a new one) is written. ``-`` means standard
output where a command allows it; ``/dev/null`` and the like are refused like any device (send
standard output there instead).

- :func:`check_target`: the up-front check, before any work is done;
- :func:`open_stream`: open for streaming (JSON Lines), refusing a special file at open time
  (``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``: a FIFO without a reader is not waited for, a
  device is not truncated);
- :func:`write_replacing`: write a whole file to a temporary beside it, renamed into place;
- :class:`PrivateOutput`: a new file readable by its owner only (hash lists).

:func:`printable` renders a path for a message or the HTML report.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import TextIO

from safehold.errors import ConflictError, InvalidInputError

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def printable(text: str | os.PathLike[str]) -> str:
    """Return ``text`` safe for a terminal, a UTF-8 file or (after ``html.escape``) HTML.

    An undecodable byte (surrogate U+DC80..U+DCFF, as ``os.fsdecode`` carries it) becomes
    ``\\xNN``; control and format characters, line separators and other lone surrogates
    become ``\\n``, ``\\xNN`` or ``\\uNNNN``; on POSIX a literal backslash is doubled.
    Everything else, non-ASCII letters included, is kept (the rules of
    ``safehold.cli.common.display_path``). The result always encodes as UTF-8.
    """
    out: list[str] = []
    for char in os.fspath(text):
        if char == "\\" and os.sep == "/":  # doubled, so ``\x41`` in a name stays unambiguous
            out.append("\\\\")
            continue
        if unicodedata.category(char) not in _UNSAFE:
            out.append(char)
            continue
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


def _refuse_special(path: Path, mode: int) -> None:
    shown = printable(path)
    if stat.S_ISLNK(mode):
        raise InvalidInputError(
            f"cannot write {shown}: it is a symbolic link; name the file itself"
        )
    if stat.S_ISDIR(mode):
        raise InvalidInputError(f"cannot write {shown}: it is a folder; name a file")
    if not stat.S_ISREG(mode):
        raise InvalidInputError(
            f"cannot write {shown}: it is a device, FIFO or other special file, not a regular "
            "file (to discard output, leave the option out and redirect standard output)"
        )


def check_target(path: Path) -> None:
    """Check that ``path`` may be (over)written, without touching it.

    Raises:
        InvalidInputError: ``path`` is a symbolic link, a folder, a device, FIFO or other
            special file, or not writable; or its folder is missing or not writable. The
            message names the path (via :func:`printable`).
    """
    shown = printable(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InvalidInputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    if st is not None:
        _refuse_special(path, st.st_mode)
        if not os.access(path, os.W_OK):
            raise InvalidInputError(f"cannot write {shown}: permission denied")
        return
    if not parent.is_dir():
        raise InvalidInputError(f"cannot write {shown}: folder {printable(parent)} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write {shown}: folder {printable(parent)} is not writable")


def open_stream(path: Path) -> TextIO:
    """Open ``path`` for writing UTF-8 text from the start; a regular file only.

    The file is opened without following a link and without blocking, checked with ``fstat``
    and only then truncated, so a device or FIFO that appeared after :func:`check_target` is
    refused untouched.

    Raises:
        InvalidInputError: ``path`` is a symbolic link or not a regular file.
        OSError: it cannot be opened (``filename`` is ``path``).
    """
    flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        with contextlib.suppress(OSError):
            _refuse_special(path, os.lstat(path).st_mode)  # ELOOP (link), ENXIO (FIFO)
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
        os.ftruncate(fd, 0)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "w", encoding="utf-8", newline="\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_replacing(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    The file gets the usual mode (0666 less the umask). A failure leaves ``path`` as it was.

    Raises:
        InvalidInputError: ``path`` is a symbolic link or a special file (never replaced).
        OSError: the folder is not writable.
    """
    with contextlib.suppress(FileNotFoundError):
        _refuse_special(path, os.lstat(path).st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        with contextlib.suppress(FileNotFoundError):  # checked again just before the rename
            _refuse_special(path, os.lstat(path).st_mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class PrivateOutput:
    """A new file for a hash list, mode 0600; removed again if writing it fails.

    Use as a context manager yielding a text stream. Without ``force`` the file must not exist
    (``O_CREAT | O_EXCL``: a symbolic link there is not followed, it counts as existing). With
    ``force`` an existing regular file is replaced atomically once writing succeeded (the data
    goes to a temporary file in the same folder, renamed over it); a symbolic link or a special
    file at ``path`` is refused, never followed or written through.

    Raises (from ``__enter__``):
        ConflictError: ``path`` exists and ``force`` is not set.
        InvalidInputError: ``path`` is a symbolic link or not a regular file.
        OSError: the file cannot be created.
    """

    def __init__(self, path: Path, *, force: bool = False) -> None:
        self.path = path
        self.force = force
        self._written: str | None = None  # the file we created (temporary with force)
        self._stream: TextIO | None = None

    def __enter__(self) -> TextIO:
        shown = printable(self.path)
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None:
            _refuse_special(self.path, st.st_mode)
            if not self.force:
                raise ConflictError(f"{shown} already exists; use --force to replace it")
        if self.force:
            folder = os.path.dirname(os.path.abspath(self.path))
            try:
                fd, self._written = tempfile.mkstemp(
                    prefix=f".{self.path.name[:100]}.", suffix=".partial", dir=folder
                )
            except OSError as exc:  # name the file asked for, not the temporary one
                raise OSError(exc.errno, exc.strerror, os.fspath(self.path)) from None
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
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
                with contextlib.suppress(FileNotFoundError):
                    _refuse_special(self.path, os.lstat(self.path).st_mode)
                os.replace(written, self.path)
            except BaseException:
                self._remove()
                raise

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._written or "")
