"""Match a file's signals against the banks: one index per signal type, per-bank thresholds.

Built once per scan from ``BankService.matchable_entries`` (enabled entries of enabled banks),
so bank changes show up on the next run, cached files included. With an ``index_dir`` the PDQ
index comes from its snapshot there, caught up with the bank change log
(:mod:`safehold.scanning.snapshots`), and no PDQ entry is loaded up front (at 10M entries that
took minutes): the per-bank counts come from one ``COUNT`` query
(``BankService.count_matchable``), and each hit's entry is looked up when it is first hit
(``BankService.get_entries``, cached for the run). The snapshot holds every PDQ entry, so hits
on disabled entries, disabled banks or banks outside the run are dropped. The threshold for a
(bank,
signal type) pair is the run's override if given, else the bank's own threshold, else the
default (settings, then the signal type's ``default_threshold``). Each index is queried once
with the largest threshold in use for its type, and each hit is kept only within its bank's
threshold (vPDQ, whose threshold is per frame, is queried once per distinct threshold).

Matches name the bank, entry id, category, source, distance and the query variant that
matched; bank hash values stay in this process and never reach a record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safehold.banks.models import BankEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, InvalidInputError
from safehold.scanning.records import MatchInfo
from safehold.scanning.snapshots import open_pdq_index
from safehold.signals.base import IndexHit, Signal, SignalIndex, SignalType, get_signal_type
from safehold.signals.pdq import PdqIndex


def resolve_thresholds(signal_types: Iterable[str], overrides: Mapping[str, int]) -> dict[str, int]:
    """Check run overrides (``{"pdq": 20}``): known types, within ``0..max_distance``.

    Raises:
        InvalidInputError: an override names a type not being scanned, or is out of range.
    """
    names = set(signal_types)
    checked: dict[str, int] = {}
    for name, value in overrides.items():
        if name not in names:
            raise InvalidInputError(
                f"threshold given for {name!r}, which this scan does not compute "
                f"(signal types: {', '.join(sorted(names))})"
            )
        cls = get_signal_type(name)
        if not 0 <= value <= max(cls.max_distance, 0):
            raise InvalidInputError(
                f"threshold {value} for {name} is outside 0..{cls.max_distance}"
            )
        checked[name] = int(value)
    return checked


def pick_threshold(
    signal_type: str,
    overrides: Mapping[str, int],
    bank_thresholds: Mapping[str, int],
    defaults: Mapping[str, int],
) -> int:
    """The distance threshold for ``signal_type``: the run's (or request's) override, else the
    bank's own, else the configured default, else the signal type's ``default_threshold``.

    The one precedence rule shared by scans and the service's live matcher.
    """
    for source in (overrides, bank_thresholds, defaults):
        if signal_type in source:
            return int(source[signal_type])
    return get_signal_type(signal_type).default_threshold


#: Signal types whose threshold is not a bound on a per-entry distance: vPDQ's is a per-frame
#: threshold that decides which frames count toward the match percentages. They are queried once
#: per distinct threshold in use instead of once with the largest.
PER_THRESHOLD_QUERY = frozenset({"vpdq"})


@dataclass(slots=True)
class _TypeIndex:
    cls: type[SignalType]
    index: SignalIndex
    entries: dict[int, BankEntry | None]  # preloaded, or (lazy) the run's lookups so far
    groups: dict[int, frozenset[str]]  # threshold -> banks using it
    count: int  # matchable entries of the run's banks
    lazy: bool = False  # entries are looked up per hit (None: not matchable in this run)


class Matcher:
    """Match signals against the banks' current entries.

    Args:
        banks: the bank service.
        signal_types: signal types the scan computes (indexes are built for these only).
        overrides: per-run thresholds (checked with :func:`resolve_thresholds`).
        defaults: default thresholds by type (e.g. settings' ``pdq_threshold``).
        bank_names: restrict to these banks; empty = every enabled bank.
        pdq_min_quality: PDQ signals below this quality are not matched.
        index_options: keyword arguments for each type's ``build_index`` (e.g.
            ``{"vpdq": {"query_match_percent": 80.0}}``); types without an entry get none.
        index_dir: folder of index snapshots (``<data_dir>/index``); None builds every
            index from the entries. ``index_origins`` then says, per signal type, whether
            its index was ``snapshot`` (loaded and caught up) or ``rebuilt``.

    Raises:
        NotFoundError: a restricting bank name does not exist.
        ConflictError: a restricting bank is disabled (its entries would silently match
            nothing).
        InvalidInputError: a bad threshold override.
    """

    def __init__(
        self,
        banks: BankService,
        signal_types: Sequence[str],
        *,
        overrides: Mapping[str, int] | None = None,
        defaults: Mapping[str, int] | None = None,
        bank_names: Sequence[str] = (),
        pdq_min_quality: int = 50,
        index_options: Mapping[str, Mapping[str, Any]] | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.overrides = resolve_thresholds(signal_types, overrides or {})
        self.defaults = dict(defaults or {})
        self.pdq_min_quality = pdq_min_quality
        named = [banks.get_bank(name) for name in bank_names]  # NotFoundError
        disabled = sorted({b.name for b in named if not b.enabled})
        if disabled:
            listed = ", ".join(repr(n) for n in disabled)
            raise ConflictError(
                f"bank {listed} is disabled, so nothing would match it; enable it with "
                f"`safehold bank enable {disabled[0]}`"
                if len(disabled) == 1
                else f"banks {listed} are disabled, so nothing would match them; enable them "
                "with `safehold bank enable NAME`"
            )
        wanted = {b.name for b in named}
        every = banks.list_banks()
        self.bank_thresholds = {b.name: dict(b.thresholds) for b in every}
        # Banks whose entries may match in this run (hits on the PDQ snapshot are checked).
        self._allowed = {b.name for b in every if b.enabled and (not wanted or b.name in wanted)}
        self._banks = banks
        self._indexes: dict[str, _TypeIndex] = {}
        self.index_origins: dict[str, str] = {}
        for name in signal_types:
            options = dict((index_options or {}).get(name, {}))
            if name == "pdq" and index_dir is not None:
                typed = self._snapshot_index(name, index_dir, options, sorted(wanted))
            else:
                typed = self._built_index(name, options, wanted)
            if typed is not None:
                self._indexes[name] = typed

    def _groups(self, name: str, bank_names: Iterable[str]) -> dict[int, frozenset[str]]:
        groups: dict[int, set[str]] = {}
        for bank in bank_names:
            groups.setdefault(self.threshold(bank, name), set()).add(bank)
        return {t: frozenset(b) for t, b in groups.items()}

    def _built_index(
        self, name: str, options: dict[str, Any], wanted: set[str]
    ) -> _TypeIndex | None:
        """The index of ``name`` built from its matchable entries (None when there are none)."""
        cls = get_signal_type(name)
        entries: dict[int, BankEntry | None] = {
            e.id: e
            for e in self._banks.matchable_entries(name)
            if not wanted or e.bank_name in wanted
        }
        if not entries:
            return None
        pairs = [(e.id, e.value) for e in entries.values() if e is not None]
        # Built-in indexes take keyword bounds beyond the base signature (settings).
        builder: Any = cls.build_index
        index: SignalIndex = builder(pairs, **options)
        bank_names = {e.bank_name for e in entries.values() if e is not None}
        return _TypeIndex(cls, index, entries, self._groups(name, bank_names), len(entries))

    def _snapshot_index(
        self, name: str, index_dir: Path, options: dict[str, Any], wanted: list[str]
    ) -> _TypeIndex | None:
        """The PDQ index from its snapshot; entries are counted, not loaded."""
        counts = self._banks.count_matchable(name, wanted)
        if not counts:
            return None
        opened = open_pdq_index(self._banks, index_dir)  # after the counts: holds them all
        self.index_origins[name] = opened.origin
        index = PdqIndex.from_binary(opened.index, **options)
        groups = self._groups(name, counts)
        return _TypeIndex(get_signal_type(name), index, {}, groups, sum(counts.values()), True)

    def threshold(self, bank: str, signal_type: str) -> int:
        """Distance threshold for ``signal_type`` in ``bank`` (run > bank > default)."""
        return pick_threshold(
            signal_type, self.overrides, self.bank_thresholds.get(bank, {}), self.defaults
        )

    def entry_count(self) -> int:
        """Number of bank entries indexed, over all signal types."""
        return sum(t.count for t in self._indexes.values())

    def match(self, signals: Mapping[str, Signal]) -> list[MatchInfo]:
        """Return every match of ``signals``, sorted by distance, bank name and entry id.

        Signals below their type's quality floor (``pdq_min_quality`` for PDQ) match nothing.
        """
        found: list[MatchInfo] = []
        for name, signal in signals.items():
            typed = self._indexes.get(name)
            if typed is None:
                continue
            floor = self.pdq_min_quality if name == "pdq" else None
            # The own value and each variant are gated on their own quality: the
            # depth-normalised variant of a 16-bit photo can match when its own value cannot.
            if not typed.cls.matchable_queries(signal, floor):
                continue
            hits = self._hits(name, typed, signal)
            if typed.lazy:
                self._look_up(typed, [hit.entry_id for hit in hits])
            for hit in hits:
                entry = typed.entries.get(hit.entry_id)
                if entry is None or hit.distance > self.threshold(entry.bank_name, name):
                    continue
                found.append(
                    MatchInfo(
                        bank=entry.bank_name,
                        entry_id=entry.id,
                        signal_type=name,
                        distance=int(hit.distance),
                        category=str(entry.category) if entry.category else None,
                        source=entry.source,
                        # Signals with query variants say which one matched; others say nothing.
                        variant=(hit.variant or "original") if signal.variants else hit.variant,
                    )
                )
        found.sort(key=lambda m: (m.distance, m.bank, m.entry_id, m.signal_type))
        return found

    def _look_up(self, typed: _TypeIndex, ids: Sequence[int]) -> None:
        """Cache the entries of hits not seen before; None for those that cannot match."""
        missing = [i for i in dict.fromkeys(ids) if i not in typed.entries]
        if not missing:
            return
        found = self._banks.get_entries(missing)
        for entry_id in missing:
            entry = found.get(entry_id)
            matchable = entry is not None and entry.enabled and entry.bank_name in self._allowed
            typed.entries[entry_id] = entry if matchable else None

    @staticmethod
    def _hits(name: str, typed: _TypeIndex, signal: Signal) -> list[IndexHit]:
        """Query once with the largest threshold (or once per threshold for vPDQ)."""
        if name not in PER_THRESHOLD_QUERY or len(typed.groups) == 1:
            return typed.index.query(signal, max(typed.groups))
        hits: list[IndexHit] = []
        for threshold, bank_names in sorted(typed.groups.items()):
            hits += [
                hit
                for hit in typed.index.query(signal, threshold)
                if (entry := typed.entries.get(hit.entry_id)) is not None
                and entry.bank_name in bank_names
            ]
        return hits
