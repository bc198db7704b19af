"""Safehold's own files in a scan: its outputs and cache must never be scanned or clobbered.

``safehold scan media -o media/cat.png`` must not replace the photo with JSON before hashing
it, and ``safehold scan media -o media/out.jsonl`` must not scan its own half-written output.
So a scan gets the paths it writes (:attr:`ScanConfig.output_paths`) and its scan cache, and:

- :func:`check_destination` checks up front that an output can be written (its folder exists
  and is writable; it is not a folder, link, device or other special file: the shared rule
  of :mod:`safehold.output_files`), before any file is hashed;
- :func:`own_file_ids` names those files by identity (device, inode), so the walk skips them
  wherever they sit under a scanned folder (through symbolic links too);
- :func:`is_safehold_output` tells an earlier run's output (safe to overwrite) from any other
  file (media, notes: the scan refuses to overwrite it).

:func:`printable` (from :mod:`safehold.output_files`) renders a path for a message or the HTML
report: bytes that are not valid UTF-8 and control characters become backslash escapes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from safehold.errors import InvalidInputError
from safehold.output_files import check_target, printable

__all__ = [
    "check_destination",
    "is_safehold_output",
    "own_file_ids",
    "printable",
    "refuse_clobbering",
]

#: SQLite files that sit beside a database file while it is open (WAL mode) or mid-commit.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

#: How a JSON Lines scan record starts (``ScanRecord.to_json`` writes ``path`` first).
JSONL_RECORD_START = b'{"path": '
#: The marker in the HTML report's ``<head>`` (``templates/report.html``).
HTML_REPORT_MARKER = b'<meta name="generator" content="safehold'


def check_destination(path: Path) -> None:
    """Check that the file ``path`` can be (over)written: :func:`output_files.check_target`.

    Raises:
        InvalidInputError: a link, folder, device or other special file, not writable, or its
            folder is missing or not writable.
    """
    check_target(path)


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
