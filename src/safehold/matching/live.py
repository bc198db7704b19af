"""One long-lived matcher per service worker that follows bank changes without reloading.

The scan's :class:`~safehold.scanning.matcher.Matcher` is built once per run. A service
worker instead keeps one :class:`LiveMatcher` for its lifetime: :meth:`LiveMatcher.load`
opens the PDQ index (from its snapshot in ``index_dir`` when valid, else rebuilt), and
:meth:`LiveMatcher.refresh` applies the bank changes made since, by this or any other process
on the same database: PDQ entries through :class:`~safehold.banks.feed.BankChangeFeed` into
the copy-on-write :class:`~safehold.index.BinaryIndex` (queries running meanwhile see the
index before or after a change, never half of it), deleted entries from
``entry_tombstones``, bank rules (thresholds, enabled, match action, category) reloaded,
touched entries dropped from the per-hit metadata cache, small types (vPDQ) rebuilt.
:meth:`LiveMatcher.start_polling` runs ``refresh`` in a daemon thread; a poll that finds
nothing new costs one ``SELECT max(id)``. Change ids commit in order (the bank service
serialises change-log writers: ``safehold.banks.rows.lock_change_log``), so "the changes after
the sequence applied" never misses one that commits late.

Matching rules are the scan's: per-request override > bank threshold > settings default >
signal type default; PDQ queries under ``pdq_min_quality`` match nothing; disabled entries,
disabled banks and deleted entries never match. md5/sha256 are looked up in the database by
value digest. Bank hash values never reach a log line, error or :class:`MatchInfo`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from safehold.banks.feed import BankChangeFeed
from safehold.banks.service import BankService
from safehold.banks.validation import signal_type_class, validate_thresholds
from safehold.errors import InvalidInputError
from safehold.index import BinaryIndex, IndexNotReadyError, hex_to_rows
from safehold.matching.banks import BankView
from safehold.matching.entry_cache import CLEAR_ABOVE, EntryCache
from safehold.matching.polling import Poller, describe_failure
from safehold.matching.queries import head_sequence, load_banks, tombstones_since, types_touched
from safehold.matching.sources import (
    ExactSource,
    MemorySource,
    PdqSource,
    Source,
    build_sources,
)
from safehold.matching.status import ExactCounts, IndexStatus
from safehold.scanning.records import MatchInfo
from safehold.scanning.snapshots import open_pdq_index
from safehold.settings import Settings
from safehold.signals import Signal

log = logging.getLogger(__name__)


class LiveMatcher:
    """Match signals against the banks, kept current while the process runs.

    Args:
        banks: the bank service (its engine is read directly).
        settings: default thresholds, ``pdq_min_quality``, vPDQ match percentages.
        index_dir: folder of the PDQ snapshot (``<data_dir>/index``); None rebuilds the PDQ
            index from the database on load and saves nothing.
    """

    def __init__(
        self, banks: BankService, settings: Settings, *, index_dir: Path | None = None
    ) -> None:
        self.banks = banks
        self.engine = banks.engine
        self.settings = settings
        self.index_dir = index_dir
        self.defaults = {"pdq": settings.pdq_threshold, "vpdq": settings.vpdq_frame_threshold}
        self.ready = False
        self._view = BankView.of([])
        self._sources: dict[str, Source] = {}
        self._pdq: PdqSource | None = None
        self._cache = EntryCache(self.engine)
        self._feed = BankChangeFeed(banks, "pdq", hex_to_rows)
        self._applied = 0  # the change sequence applied
        self._lock = threading.Lock()  # one load or refresh at a time
        self._loading = False
        self._origin: str | None = None
        self._refreshed_at: float | None = None
        self._last_error: str | None = None
        self._counts = ExactCounts(banks)
        self._poller = Poller(self._poll_once, self._failed)

    @property
    def change_seq(self) -> int:
        """The bank change sequence applied (0 before loading)."""
        return self._applied

    # -- loading and following changes -----------------------------------------------------

    def load(self) -> None:
        """Load every index (blocking; seconds at millions of PDQ entries).

        Idempotent: a loaded matcher returns at once.

        Raises:
            StorageError: the database fails (the matcher stays not ready).
        """
        self._loading = True
        try:
            with self._lock:
                if self.ready:
                    return
                start = head_sequence(self.engine)  # anything newer is replayed again
                view = load_banks(self.engine)
                if self.index_dir is not None:
                    opened = open_pdq_index(self.banks, self.index_dir)
                    binary, origin = opened.index, opened.origin
                else:
                    full = self._feed.full_load()
                    binary = BinaryIndex.from_arrays(full.ids, full.rows, disabled=full.disabled)
                    origin = "rebuilt"
                pdq = PdqSource(binary, self._cache, min_quality=self.settings.pdq_min_quality)
                sources = build_sources(self.engine, pdq, self.settings)
                self._counts.update(_exact_names(sources), force=True)
                self._cache.clear()
                self._applied = start
                self._view, self._pdq, self._sources = view, pdq, sources
                self._origin = origin
                self._succeeded()
                self.ready = True
            log.info("match index ready at change %d (PDQ %s)", start, origin)
        except Exception as exc:
            self._failed(exc)
            raise
        finally:
            self._loading = False

    def refresh(self) -> int:
        """Apply the bank changes made since the last load or refresh.

        Returns:
            How many change-log ids were replayed (0 when nothing changed).

        Raises:
            IndexNotReadyError: :meth:`load` has not succeeded.
            StorageError: the database fails (nothing is half applied: a later refresh
                replays the same window).
        """
        if not self.ready or self._pdq is None:
            raise IndexNotReadyError("the match index is still loading; retry shortly")
        try:
            with self._lock:
                applied = self._apply_changes(self._pdq)
                self._counts.update(_exact_names(self._sources))
        except Exception as exc:
            self._failed(exc)
            raise
        self._succeeded()
        return applied

    def _apply_changes(self, pdq: PdqSource) -> int:
        since = self._applied
        if self._feed.current_sequence() <= since:
            return 0
        batch = self._feed.changes_since(since)
        tombs = tombstones_since(self.engine, since)
        memory = [n for n, s in self._sources.items() if isinstance(s, MemorySource)]
        rebuild = types_touched(self.engine, since, memory) | {t for _, t in tombs if t in memory}
        view = load_banks(self.engine)
        changes = list(batch.changes)  # deleted entries (tombstones) are removed first
        if changes:
            pdq.binary.update(changes)
        touched = len(tombs) + sum(len(change.ids) for change in changes)
        if touched > CLEAR_ABOVE:  # a bulk change: start the metadata cache afresh
            self._cache.clear()
        else:
            ids = [entry_id for entry_id, _ in tombs]
            for change in changes:
                ids += change.ids.tolist()
            self._cache.invalidate(ids)
        sources = dict(self._sources)
        for name in sorted(rebuild):
            sources[name] = MemorySource.build(self.engine, name, self.settings)
        self._view, self._sources = view, sources
        self._counts.changed()
        self._applied = max(since, batch.change_seq)
        log.debug("match index at change %d (%d entries touched)", batch.change_seq, touched)
        return max(0, batch.change_seq - since)

    def start_polling(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` seconds in a daemon thread (loading first if needed).

        Failures are logged (never with hash values) and retried every
        :data:`~safehold.matching.polling.ERROR_RETRY_S` seconds; they never end the thread.
        A second call while the thread runs does nothing.
        """
        self._poller.start(interval_s)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the polling thread (waits up to ``timeout`` seconds for it)."""
        self._poller.stop(timeout)

    def _poll_once(self) -> None:
        if self.ready:
            self.refresh()
        else:
            self.load()

    def _succeeded(self) -> None:
        if self._last_error is not None:
            log.warning("match index refresh works again")
        self._last_error = None
        self._refreshed_at = time.monotonic()

    def _failed(self, exc: BaseException) -> None:
        """Keep and log a failure (once per distinct message; no hash values)."""
        message = describe_failure(exc)
        if message != self._last_error:
            log.error("match index load/refresh failed: %s", message)
        self._last_error = message

    # -- matching ----------------------------------------------------------------------------

    def _ensure_ready(self) -> None:
        if self.ready:
            return
        if self._loading or self._poller.running:
            raise IndexNotReadyError("the match index is still loading; retry shortly")
        self.load()  # nobody is loading it: load on first use

    def match(
        self,
        signals: Mapping[str, Signal],
        *,
        bank_names: Sequence[str] = (),
        overrides: Mapping[str, int] | None = None,
    ) -> list[MatchInfo]:
        """Every match of ``signals`` (name -> signal), sorted by distance, bank, entry id.

        Args:
            signals: e.g. from :func:`safehold.matching.hashing.hash_upload`; types the
                matcher does not serve are ignored.
            bank_names: restrict to these banks (ignoring case); empty = every enabled bank.
            overrides: per-request thresholds by signal type (win over bank thresholds).

        Raises:
            IndexNotReadyError: the index is loading (503).
            NotFoundError: a named bank does not exist. ConflictError: it is disabled.
            InvalidInputError: an override names an unknown type or is out of range.
            StorageError: the database fails (exact look-ups, first hit of an entry).
        """
        self._ensure_ready()
        checked = validate_thresholds(dict(overrides)) if overrides else {}
        view, sources = self._view, self._sources
        allowed = view.allowed(bank_names)
        found: list[MatchInfo] = []
        for name, signal in signals.items():
            source = sources.get(name)
            if source is None:
                continue
            groups = view.groups(name, allowed, checked, self.defaults)
            for hit, meta in source.candidates(signal, groups):
                if meta is None or not meta.enabled or meta.bank_id not in allowed:
                    continue
                bank = view.by_id.get(meta.bank_id)
                if bank is None or hit.distance > view.threshold(
                    bank, name, checked, self.defaults
                ):
                    continue
                found.append(
                    MatchInfo(
                        bank=bank.name,
                        entry_id=meta.id,
                        signal_type=name,
                        distance=int(hit.distance),
                        category=meta.category or bank.category,
                        source=meta.source,
                        variant=(hit.variant or "original") if signal.variants else hit.variant,
                    )
                )
        found.sort(key=lambda m: (m.distance, m.bank, m.entry_id, m.signal_type))
        return found

    def match_value(
        self,
        signal_type: str,
        value: str,
        *,
        quality: int | None = None,
        bank_names: Sequence[str] = (),
        overrides: Mapping[str, int] | None = None,
    ) -> list[MatchInfo]:
        """Match one hash string (``"pdq"``, 64 hex digits; any registered signal type).

        ``quality`` (0-100, optional) gates PDQ as for hashed content; None always matches.

        Raises:
            InvalidInputError: unknown signal type, or a plug-in type the service does not
                match. InvalidSignalError: ``value`` does not parse (the message never
                echoes it). Otherwise as :meth:`match`.
        """
        cls = signal_type_class(signal_type)
        if self.ready and cls.name not in self._sources:
            raise InvalidInputError(f"signal type {cls.name!r} is not matched by this service")
        canonical = cls.validate_signal(value)
        signal = Signal(cls.name, canonical, quality)
        return self.match({cls.name: signal}, bank_names=bank_names, overrides=overrides)

    def action_for(self, matches: Sequence[MatchInfo]) -> str:
        """What an untrusted caller is told: ``none``, or the strongest ``match_action`` of
        the matched banks (``block`` > ``review``)."""
        return self._view.action_for(m.bank for m in matches)

    # -- status ------------------------------------------------------------------------------

    def status(self) -> IndexStatus:
        """Readiness, sequence, entry counts per signal type, origin, freshness, last error.

        Never queries the database (health checks and metrics call it): exact-type counts
        are the last ones :class:`~safehold.matching.status.ExactCounts` made.
        """
        age = None if self._refreshed_at is None else time.monotonic() - self._refreshed_at
        entries: dict[str, int] = {}
        if self.ready:
            view, sources = self._view, self._sources
            entries = self._counts.get()
            for name, source in sources.items():
                count = source.entry_count(view.enabled_ids)
                if count is not None:
                    entries[name] = count
        return IndexStatus(
            ready=self.ready,
            change_seq=self.change_seq,
            entries=dict(sorted(entries.items())),
            origin=self._origin,
            seconds_since_refresh=age,
            last_error=self._last_error,
        )


def _exact_names(sources: dict[str, Source]) -> list[str]:
    """The byte-exact signal types (their entries are counted, not held)."""
    return sorted(n for n, s in sources.items() if isinstance(s, ExactSource))
