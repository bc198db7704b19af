"""Where the live matcher finds candidate entries for one signal type, in three shapes.

* :class:`PdqSource`: the PDQ :class:`~safehold.index.BinaryIndex` (every PDQ entry, rows of
  disabled entries and banks disabled, updated in place from the change log) plus the
  per-hit :class:`~safehold.matching.entry_cache.EntryCache`.
* :class:`ExactSource`: md5/sha256 (any :class:`~safehold.signals.exact.CryptographicSignalType`):
  one indexed database look-up by value digest per query, so millions of exact entries cost
  no memory.
* :class:`MemorySource`: small signal types (vPDQ): the type's own index over its enabled
  entries with their metadata, rebuilt whole when one of its entries changes.

Each returns ``(hit, metadata or None)`` pairs within the largest threshold in use; the
matcher applies each bank's threshold, enabled state and restriction afterwards. Types
whose threshold is not a bound on the distance reported (vPDQ: a per-frame threshold) are
queried once per distinct threshold, keeping the hits of the banks using it, as the scan
matcher does (:data:`safehold.scanning.matcher.PER_THRESHOLD_QUERY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Engine

from safehold.index import BinaryIndex
from safehold.matching.entry_cache import EntryCache
from safehold.matching.queries import EntryMeta, exact_entries, memory_entries
from safehold.scanning.matcher import PER_THRESHOLD_QUERY
from safehold.scanning.pipeline import builtin_signal_types
from safehold.settings import Settings
from safehold.signals import SIGNAL_TYPES
from safehold.signals.base import IndexHit, Signal, SignalIndex, SignalType
from safehold.signals.exact import CryptographicSignalType
from safehold.signals.pdq import PdqIndex

#: ``(hit, entry metadata or None)``; None: no such entry (deleted).
Candidate = tuple[IndexHit, EntryMeta | None]
#: ``{threshold: ids of the banks using it}`` for one signal type.
Groups = Mapping[int, frozenset[int]]


class Source(Protocol):
    """Candidates of one signal type (see the module doc)."""

    def candidates(self, signal: Signal, groups: Groups) -> list[Candidate]:
        """Entries within the thresholds of ``groups`` (not yet filtered by bank)."""
        ...

    def entry_count(self, enabled_banks: frozenset[int]) -> int | None:
        """Matchable entries held (None: not known without a database count)."""
        ...


class PdqSource:
    """The PDQ index and its per-hit metadata cache.

    Args:
        binary: every PDQ entry's row (disabled rows never match).
        cache: the entry metadata cache.
        min_quality: PDQ queries below this quality match nothing (``pdq_min_quality``).
    """

    def __init__(self, binary: BinaryIndex, cache: EntryCache, *, min_quality: int) -> None:
        self.binary = binary
        self.index = PdqIndex.from_binary(binary, min_quality=min_quality)
        self.cache = cache

    def candidates(self, signal: Signal, groups: Groups) -> list[Candidate]:
        """Hits within the largest threshold, each with its (cached) entry metadata."""
        if not groups:
            return []
        hits = self.index.query(signal, max(groups))
        if not hits:
            return []
        meta = self.cache.get([h.entry_id for h in hits])
        return [(h, meta.get(h.entry_id)) for h in hits]

    def entry_count(self, enabled_banks: frozenset[int]) -> int | None:
        """Rows that can match (entries and banks enabled)."""
        return self.binary.stats().live


class ExactSource:
    """Byte-exact signal types, looked up in the database per query."""

    def __init__(self, engine: Engine, signal_type: str) -> None:
        self.engine = engine
        self.signal_type = signal_type

    def candidates(self, signal: Signal, groups: Groups) -> list[Candidate]:
        """The entries holding exactly ``signal.value`` (distance 0)."""
        if not groups:
            return []
        return [
            (IndexHit(m.id, 0), m)
            for m in exact_entries(self.engine, self.signal_type, signal.value)
        ]

    def entry_count(self, enabled_banks: frozenset[int]) -> int | None:
        """Not held in memory: counted by the matcher's status (cached)."""
        return None


class MemorySource:
    """A small signal type's own index over its enabled entries, with their metadata.

    Args:
        cls: the signal type.
        index: built from :func:`~safehold.matching.queries.memory_entries`.
        meta: metadata of the indexed entries, by id.
    """

    def __init__(
        self, cls: type[SignalType], index: SignalIndex, meta: Mapping[int, EntryMeta]
    ) -> None:
        self.cls = cls
        self.index = index
        self.meta = meta

    @classmethod
    def build(cls, engine: Engine, signal_type: str, settings: Settings) -> MemorySource:
        """Read the enabled entries of ``signal_type`` and build its index (with the keyword
        bounds of :func:`index_options`).

        Raises:
            StorageError: the database fails.
        """
        kind = SIGNAL_TYPES.get(signal_type)
        pairs, meta = memory_entries(engine, signal_type)
        builder: Any = kind.build_index  # built-ins take keyword bounds
        return cls(kind, builder(pairs, **index_options(signal_type, settings)), meta)

    def candidates(self, signal: Signal, groups: Groups) -> list[Candidate]:
        """Hits with their metadata; per-threshold types are queried once per threshold."""
        if not groups:
            return []
        if self.cls.name not in PER_THRESHOLD_QUERY or len(groups) == 1:
            hits = self.index.query(signal, max(groups))
            return [(h, self.meta.get(h.entry_id)) for h in hits]
        found: list[Candidate] = []
        for threshold, bank_ids in sorted(groups.items()):
            for hit in self.index.query(signal, threshold):
                meta = self.meta.get(hit.entry_id)
                if meta is not None and meta.bank_id in bank_ids:
                    found.append((hit, meta))
        return found

    def entry_count(self, enabled_banks: frozenset[int]) -> int | None:
        """Indexed entries whose bank is enabled."""
        return sum(1 for m in self.meta.values() if m.bank_id in enabled_banks)


def index_options(signal_type: str, settings: Settings) -> dict[str, Any]:
    """Keyword bounds for a small type's ``build_index`` from settings (the scan's: the vPDQ
    match percentages; none for other types)."""
    if signal_type == "vpdq":
        return {
            "query_match_percent": settings.vpdq_query_match_percent,
            "bank_match_percent": settings.vpdq_bank_match_percent,
        }
    return {}


def build_sources(engine: Engine, pdq: PdqSource, settings: Settings) -> dict[str, Source]:
    """A source for every built-in signal type (as the scan matches by default; plug-in types
    are not served): ``pdq`` as given, byte-exact types in the database, vPDQ in memory,
    ``url`` by its expressions in the database (:mod:`safehold.matching.url_source`).

    Raises:
        StorageError: the database fails.
    """
    from safehold.matching.url_source import UrlSource  # it builds on this module

    sources: dict[str, Source] = {"pdq": pdq, "url": UrlSource(engine)}
    for name in builtin_signal_types():
        kind = SIGNAL_TYPES.get(name)
        if issubclass(kind, CryptographicSignalType):
            sources[name] = ExactSource(engine, name)
        elif name not in sources:
            sources[name] = MemorySource.build(engine, name, settings)
    return sources
