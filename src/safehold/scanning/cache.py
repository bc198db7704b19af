"""The scan cache: what each file hashed to, so a re-run (or a killed run) skips unchanged files.

One SQLite file (stdlib ``sqlite3``, WAL mode), by default ``<data_dir>/scan-cache.sqlite``.
A row is keyed by the file's absolute path and a *fingerprint* of everything else that shapes
its signals (hashing options, size bounds, Safehold's version); it is valid while the file's
size and ``mtime_ns`` are unchanged and it covers the signal types requested. Rows hold the
file's own signals (with their query variants) and deterministic errors (``corrupt``,
``unsupported``...); timeouts, crashes and I/O errors are not cached, so they are retried.

Matches are never cached: the scan re-matches cached signals against the current banks.
Rows are committed in batches (``commit_every``), so a killed scan loses at most one batch.
The cache holds hashes of scanned files only, never bank hashes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from safehold import __version__
from safehold.scanning.records import FileError, FileOutcome
from safehold.signals.base import HashOptions, Signal

#: Bumped whenever the table layout or the meaning of a row changes; old files are rebuilt.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_type TEXT,
    signal_types TEXT NOT NULL,
    signals TEXT NOT NULL,
    error TEXT,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (path, fingerprint)
)
"""


def options_fingerprint(hash_options: HashOptions, max_file_bytes: int) -> str:
    """Return a short hex digest of the options that change a file's signals.

    Covers every :class:`HashOptions` field, the size bound and Safehold's version (a new
    release may change a hashing recipe). 16 hex digits of SHA-256.
    """
    parts = {
        "options": asdict(hash_options),
        "max_file_bytes": max_file_bytes,
        "version": __version__,
        "schema": SCHEMA_VERSION,
    }
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _key(path: str) -> bytes:
    """Paths are stored as bytes: a file name need not be valid UTF-8 (surrogate escapes)."""
    return path.encode("utf-8", "surrogateescape")


def _encode_signals(signals: dict[str, Signal]) -> str:
    """Every field of each :class:`Signal`, so no field is lost on a cached re-run."""
    return json.dumps({name: asdict(s) for name, s in signals.items()}, sort_keys=True)


def _decode_signals(text: str) -> dict[str, Signal]:
    raw: dict[str, dict[str, Any]] = json.loads(text)
    out: dict[str, Signal] = {}
    for name, item in raw.items():
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in item.items()
        }
        out[name] = Signal(**fields)
    return out


class ScanCache:
    """Read and write cached per-file outcomes.

    Args:
        path: the SQLite file (created with its parent directory when missing).
        fingerprint: from :func:`options_fingerprint`.
        commit_every: rows per commit.

    Raises:
        sqlite3.Error: the file cannot be opened (the caller decides whether that is fatal).
    """

    def __init__(self, path: Path, fingerprint: str, *, commit_every: int = 200) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fingerprint = fingerprint
        self.commit_every = max(1, commit_every)
        self._pending = 0
        self._db = sqlite3.connect(path, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            self._db.execute("DROP TABLE IF EXISTS files")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(
        self, path: str, size: int, mtime_ns: int, signal_types: tuple[str, ...]
    ) -> FileOutcome | None:
        """Return the cached outcome for an unchanged file covering ``signal_types``, else None.

        The outcome's signals are limited to ``signal_types``.
        """
        row = self._db.execute(
            "SELECT size, mtime_ns, content_type, signal_types, signals, error FROM files"
            " WHERE path = ? AND fingerprint = ?",
            (_key(path), self.fingerprint),
        ).fetchone()
        if row is None or row[0] != size or row[1] != mtime_ns:
            return None
        if not set(signal_types) <= set(json.loads(row[3])):
            return None
        signals = {k: v for k, v in _decode_signals(row[4]).items() if k in signal_types}
        error = None
        if row[5] is not None:
            raw = json.loads(row[5])
            error = FileError(raw["type"], raw["message"])
        return FileOutcome(row[2], size, signals, error, signal_types)

    def put(self, path: str, size: int, mtime_ns: int, outcome: FileOutcome) -> None:
        """Store ``outcome`` for the file when it is cacheable (see the module docstring)."""
        if not outcome.cacheable:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO files (path, fingerprint, size, mtime_ns, content_type,"
            " signal_types, signals, error, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _key(path),
                self.fingerprint,
                size,
                mtime_ns,
                outcome.content_type,
                json.dumps(sorted(outcome.signal_types)),
                _encode_signals(outcome.signals),
                json.dumps(outcome.error.to_dict()) if outcome.error else None,
                time.time(),
            ),
        )
        self._pending += 1
        if self._pending >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        """Commit pending rows."""
        self._db.commit()
        self._pending = 0

    def close(self) -> None:
        """Commit pending rows and close the file."""
        self.flush()
        self._db.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM files").fetchone()[0])
