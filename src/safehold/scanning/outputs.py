"""Safehold's own files in a scan: its outputs and cache must never be scanned or clobbered.

``safehold scan media -o media/cat.png`` must not replace the photo with JSON before hashing
it, and ``safehold scan media -o media/out.jsonl`` must not scan its own half-written output.
So a scan gets the paths it writes (:attr:`ScanConfig.output_paths`) and its scan cache, and:

- :func:`check_destination` checks up front that an output can be written (its folder exists
  and is writable; it is not a folder), before any file is hashed;
- :func:`own_file_ids` names those files by identity (device, inode), so the walk skips them
  wherever they sit under a scanned folder (through symbolic links too);
- :func:`is_safehold_output` tells an earlier run's output (safe to overwrite) from any other
  file (media, notes: the scan refuses to overwrite it).

:func:`printable` renders a path for a message or the HTML report: bytes that are not valid
UTF-8 (carried as surrogates, PEP 383) and control characters become backslash escapes.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from safehold.errors import InvalidInputError

#: SQLite files that sit beside a database file while it is open (WAL mode) or mid-commit.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

#: How a JSON Lines scan record starts (``ScanRecord.to_json`` writes ``path`` first).
JSONL_RECORD_START = b'{"path": '
#: The marker in the HTML report's ``<head>`` (``templates/report.html``).
HTML_REPORT_MARKER = b'<meta name="generator" content="safehold'

_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


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


def check_destination(path: Path) -> None:
    """Check that the file ``path`` can be (over)written, without touching it.

    Raises:
        InvalidInputError: the path is a folder (``Path("")`` is ``.``: callers refuse an empty
            name first) or not writable, or its folder is missing or not writable. The message
            names the path (via :func:`printable`).
    """
    shown = printable(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InvalidInputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInputError(f"cannot write {shown}: it is a folder; name a file")
        if not os.access(path, os.W_OK):
            raise InvalidInputError(f"cannot write {shown}: permission denied")
        return
    if not parent.is_dir():
        raise InvalidInputError(f"cannot write {shown}: folder {printable(parent)} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"cannot write {shown}: folder {printable(parent)} is not writable")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def own_file_ids(
    outputs: Iterable[Path], cache_path: Path | None
) -> dict[tuple[int, int], tuple[Path, bool]]:
    """Identify the run's own files that exist now.

    Returns:
        ``{(st_dev, st_ino): (path, is_output)}`` for each existing output file and for the
        scan cache and its SQLite side files (``is_output`` False).
    """
    found: dict[tuple[int, int], tuple[Path, bool]] = {}
    for path in outputs:
        key = _identity(path)
        if key is not None:
            found[key] = (path, True)
    if cache_path is not None:
        for suffix in ("", *SQLITE_SIDE_FILES):
            side = cache_path.with_name(cache_path.name + suffix)
            key = _identity(side)
            if key is not None:
                found.setdefault(key, (side, False))
    return found


def is_safehold_output(path: Path) -> bool:
    """True when ``path`` is empty or holds what a scan writes (JSON Lines records, the report).

    Only such a file may be overwritten when it also lies among the files to scan.
    """
    try:
        with path.open("rb") as f:
            head = f.read(2048)
    except OSError:
        return False
    return not head or head.startswith(JSONL_RECORD_START) or HTML_REPORT_MARKER in head


def refuse_clobbering(path: Path) -> None:
    """Raise when the output ``path``, found among the files to scan, is not an earlier output.

    Raises:
        InvalidInputError: writing there would replace a file this scan is asked to hash.
    """
    if not is_safehold_output(path):
        raise InvalidInputError(
            f"refusing to write {printable(path)}: it is one of the files to scan and not an "
            "earlier Safehold output; choose an output file outside the scanned files"
        )
