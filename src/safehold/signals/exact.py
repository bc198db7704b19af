"""What MD5 and SHA-256 share: hash the file's bytes, compare for equality, index in a dict.

Cryptographic hashes match only byte-identical files, so the "index" is a dictionary from hash
to entry ids and the distance is 0 (equal) or 1 (different). Files are streamed in 1 MiB chunks
so a multi-gigabyte video is never held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import ClassVar

from safehold.signals.base import (
    Content,
    ContentType,
    IndexHit,
    Signal,
    SignalIndex,
    SignalType,
    canonical_hex,
)

#: Bytes read per step when hashing a file.
CHUNK_BYTES = 1 << 20


class ExactIndex(SignalIndex):
    """Equality lookup of canonical hex strings (a ``dict``); every hit has distance 0.

    Args:
        entries: validated ``(entry_id, value)`` pairs; several entries may share a value.
    """

    def __init__(self, entries: Sequence[tuple[int, str]]) -> None:
        self._ids: dict[str, list[int]] = {}
        for entry_id, value in entries:
            self._ids.setdefault(value, []).append(entry_id)
        self._count = len(entries)

    def query(self, signal: Signal, threshold: int = 0) -> list[IndexHit]:
        """Return the entries whose value equals ``signal.value`` (``threshold`` is ignored)."""
        return [IndexHit(entry_id, 0) for entry_id in self._ids.get(signal.value, ())]

    def __len__(self) -> int:
        return self._count


class CryptographicSignalType(SignalType):
    """Base of the byte-exact signal types; subclasses set ``name``, ``algorithm``, ``hex_length``.

    Signals are lower-case hex digests of the whole file (no quality, no variants). The digest
    is created with ``usedforsecurity=False``: it identifies files, it protects nothing (this
    keeps MD5 available on FIPS-mode systems).
    """

    content_types: ClassVar[frozenset[ContentType]] = frozenset(ContentType)
    default_threshold: ClassVar[int] = 0
    max_distance: ClassVar[int] = 0
    algorithm: ClassVar[str]
    hex_length: ClassVar[int]
    #: Indefinite article for ``name`` in messages ("an md5 hash", "a sha256 hash").
    article: ClassVar[str] = "a"

    @classmethod
    def validate_signal(cls, value: str) -> str:
        """Return ``value`` stripped and lower-cased.

        Raises:
            InvalidSignalError: not exactly ``hex_length`` hexadecimal digits
                (:func:`~safehold.signals.base.canonical_hex`).
        """
        return canonical_hex(value, cls.hex_length, f"{cls.article} {cls.name} hash")

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """0 when the two canonical hashes are equal, else 1."""
        return 0 if a == b else 1

    @classmethod
    def build_index(cls, entries: Sequence[tuple[int, str]]) -> SignalIndex:
        """Build an :class:`ExactIndex` over validated ``(entry_id, value)`` pairs."""
        return ExactIndex(entries)

    def _compute(self, content: Content) -> Signal:
        h = hashlib.new(self.algorithm, usedforsecurity=False)
        for chunk in content.iter_chunks(CHUNK_BYTES):
            h.update(chunk)
        return Signal(self.name, h.hexdigest())
