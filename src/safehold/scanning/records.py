"""The per-file result types of a scan and their JSON Lines form.

A worker returns a :class:`FileOutcome` (what hashing found); the parent adds the matches and
emits a :class:`ScanRecord`, serialised one JSON object per line (see ``docs/scanning.md``)::

    {"path": "/abs/file.jpg", "content_type": "photo", "size": 48213,
     "signals": {"md5": {"value": "...", "quality": null}},
     "matches": [{"bank": "demo", "entry_id": 3, "signal_type": "pdq", "distance": 4,
                  "category": "local:demo", "source": "demo", "variant": "rotate90"}],
     "error": null, "cached": false}

Records carry the scanned file's own signals and bank entry ids, never bank hash values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from safehold.errors import SafeholdError
from safehold.signals.base import Signal

#: Error codes that depend only on a file's bytes and the options, so they are cached.
#: Everything else (``timeout``, ``crashed``, ``unreadable``, ``content_error`` for I/O,
#: ``error`` for surprises) is retried on the next run.
DETERMINISTIC_CODES = frozenset({"corrupt", "unsupported", "empty", "too_large"})


@dataclass(frozen=True, slots=True)
class FileError:
    """A per-file error: ``type`` is an error ``code`` from :mod:`safehold.errors`.

    ``cacheable`` is False for outcomes that may differ on a re-run (timeouts, crashes, memory
    exhaustion, I/O errors): those files are hashed again next time.
    """

    type: str
    message: str
    cacheable: bool = True

    @classmethod
    def from_exception(cls, exc: SafeholdError, *, cacheable: bool | None = None) -> FileError:
        """Build from a Safehold error (its ``code`` and message).

        ``cacheable`` defaults to whether the code is in :data:`DETERMINISTIC_CODES`.
        """
        if cacheable is None:
            cacheable = exc.code in DETERMINISTIC_CODES
        return cls(exc.code, exc.message, cacheable)

    def to_dict(self) -> dict[str, str]:
        """Return ``{"type": ..., "message": ...}``."""
        return {"type": self.type, "message": self.message}


@dataclass(slots=True)
class FileOutcome:
    """What hashing one file produced.

    Attributes:
        content_type: ``photo``/``video``, or None when detection failed.
        size: file size in bytes as detected (None when unknown).
        signals: signal type name -> signal, for every signal type that succeeded.
        error: the first error met (detection, or a signal type that failed), else None.
            A file can have both signals and an error (e.g. md5 of a corrupt image).
        signal_types: signal type names attempted (the cache checks a request is covered).
    """

    content_type: str | None = None
    size: int | None = None
    signals: dict[str, Signal] = field(default_factory=dict)
    error: FileError | None = None
    signal_types: tuple[str, ...] = ()

    @property
    def cacheable(self) -> bool:
        """Whether the outcome depends only on the file's bytes and options."""
        return self.error is None or self.error.cacheable


@dataclass(frozen=True, slots=True)
class MatchInfo:
    """One bank entry matched by a scanned file.

    Attributes:
        bank: bank name.
        entry_id: bank entry id (never its hash value).
        signal_type: signal type that matched.
        distance: distance between the file's signal (or variant) and the entry.
        category: ``scheme:code`` or None.
        source: the entry's source.
        variant: the query variant that matched (``original``, ``rotate90``, ...), or None
            when the signal type has no variants.
    """

    bank: str
    entry_id: int
    signal_type: str
    distance: int
    category: str | None
    source: str
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "bank": self.bank,
            "entry_id": self.entry_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "category": self.category,
            "source": self.source,
            "variant": self.variant,
        }


@dataclass(slots=True)
class ScanRecord:
    """The result for one scanned path, handed to ``on_record`` and written as one JSON line.

    Attributes:
        path: absolute path (symlinks not resolved).
        content_type: ``photo``/``video`` or None.
        size: bytes, or None when the file could not be read.
        signals: signal type name -> the file's signal.
        matches: matches sorted by distance, then bank and entry id; empty when none.
        error: None, or the file's error.
        cached: True when the signals came from the scan cache instead of hashing.
    """

    path: str
    content_type: str | None
    size: int | None
    signals: dict[str, Signal]
    matches: list[MatchInfo]
    error: FileError | None
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (signal variants are left out; they are query-side only)."""
        return {
            "path": self.path,
            "content_type": self.content_type,
            "size": self.size,
            "signals": {
                name: {"value": s.value, "quality": s.quality}
                for name, s in sorted(self.signals.items())
            },
            "matches": [m.to_dict() for m in self.matches],
            "error": self.error.to_dict() if self.error else None,
            "cached": self.cached,
        }

    def to_json(self) -> str:
        """Return the record as one line of JSON (no trailing newline)."""
        # ASCII-only: paths that are not valid UTF-8 (surrogate escapes) stay valid JSON.
        return json.dumps(self.to_dict(), ensure_ascii=True)
