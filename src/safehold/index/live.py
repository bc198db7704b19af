"""The live part of the index: an immutable state swapped whole, changes, and compaction.

:class:`LiveIndex` holds an immutable :class:`~safehold.index.state.State` (indexed segments
plus one small flat segment of recent additions, with skip bitmaps). Readers take whichever
state is published when they start and need no lock; a change builds the next state under a
writer lock and publishes it with one reference assignment, so it is visible to the next
query as soon as the call returns and a reader never sees half of it. When segments pile up
or removed rows pass a quarter of the total, a background thread merges them (compaction)
while queries and changes go on; changes made meanwhile are replayed onto the merged state
before it is published. :class:`~safehold.index.binary.BinaryIndex` adds search on top.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safehold.errors import InvalidInputError
from safehold.index.segment import IdArray
from safehold.index.state import Change, Config, State, apply, merge

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Counts and memory of one published state (rows: stored rows, removed ones included)."""

    rows: int
    live: int
    disabled: int
    removed: int
    segments: int
    nbytes: int


class LiveIndex:
    """State holder with atomic changes and background compaction (see the module doc).

    Args:
        config: geometry and housekeeping shared by every segment.
        max_segments: indexed segments allowed before a background compaction starts.
        auto_compact: start compactions by themselves (else only :meth:`compact`).
    """

    def __init__(self, config: Config, max_segments: int, auto_compact: bool) -> None:
        self._cfg = config
        self.max_segments = max_segments
        self.auto_compact = auto_compact
        self._state = State()
        self._lock = threading.Lock()
        self._compacting = threading.Lock()
        self._log: list[Change] | None = None  # changes made while a compaction runs
        self._worker: threading.Thread | None = None
        self._worker_error: BaseException | None = None

    @property
    def bits(self) -> int:
        """Hash width in bits."""
        return self._cfg.bits

    @property
    def config(self) -> Config:
        """Geometry and housekeeping settings (shared with snapshots)."""
        return self._cfg

    def __len__(self) -> int:
        """Rows stored and not removed (disabled rows count)."""
        st = self._state
        return st.rows - st.removed

    def stats(self) -> IndexStats:
        """Counts and bytes of the current state (``nbytes`` includes the bitmaps)."""
        st = self._state
        removed = st.removed
        skipped = sum(p.skipped for p in st.parts)
        nbytes = sum(p.segment.nbytes + p.skip.nbytes + p.removed.nbytes for p in st.parts)
        return IndexStats(
            st.rows, st.rows - skipped, skipped - removed, removed, len(st.parts), nbytes
        )

    def _queries(
        self, queries: npt.ArrayLike, ndim: int, what: str = "queries"
    ) -> npt.NDArray[np.uint64]:
        """``queries`` as a C-contiguous uint64 array of ``ndim`` dimensions, last = words."""
        arr = np.asarray(queries)
        words = self.bits // 64
        if arr.dtype != np.uint64 or arr.ndim != ndim or arr.shape[-1] != words:
            shape = "(words,)" if ndim == 1 else "(n, words)" if ndim == 2 else "(n, v, words)"
            raise InvalidInputError(f"{what} must be uint64 {shape} with words = {words}")
        return np.ascontiguousarray(arr)

    def _radius(self, radius: int) -> int:
        """``radius`` as an int, capped at ``bits`` (a wider radius matches everything too)."""
        try:
            ok = not isinstance(radius, bool) and int(radius) == radius and radius >= 0
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise InvalidInputError("radius must be a non-negative integer")
        return min(int(radius), self._cfg.bits)

    def _publish(self, state: State) -> None:
        """Replace the whole state (used by snapshot loading)."""
        with self._lock:
            self._state = state

    @property
    def state(self) -> State:
        """The published state (immutable; for snapshots and diagnostics)."""
        return self._state

    # -- changing --------------------------------------------------------------------------

    def _ids(self, ids: npt.ArrayLike) -> IdArray:
        arr = np.asarray(ids)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError("ids must be integers")
        return arr.astype(np.int64).reshape(-1)

    def update(self, changes: Iterable[Change]) -> int:
        """Apply ``changes`` in order as one atomic step; returns rows affected.

        Queries see all of the changes or none of them.
        """
        with self._lock:
            st = self._state
            total = 0
            applied = list(changes)
            for change in applied:
                st, n = apply(st, change, self._cfg)
                total += n
            self._state = st
            if self._log is not None:
                self._log.extend(applied)
        self._maybe_compact()
        return total

    def add(self, ids: npt.ArrayLike, rows: npt.ArrayLike) -> int:
        """Add ``(n, words)`` uint64 rows with their ids (enabled); returns rows added.

        Ids may repeat (e.g. every frame of one video under the video's entry id).

        Raises:
            InvalidInputError: rows of the wrong dtype/shape, or ids of another length.
        """
        r = self._queries(rows, 2, "rows")
        i = self._ids(ids)
        if len(i) != len(r):
            raise InvalidInputError("ids and rows must have the same length")
        return self.update([Change("add", i, r.copy())])

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove every row with one of ``ids`` for good; returns rows removed."""
        return self.update([Change("remove", self._ids(ids))])

    def disable(self, ids: npt.ArrayLike) -> int:
        """Stop reporting rows with these ids (kept, see :meth:`enable`); returns rows changed."""
        return self.update([Change("disable", self._ids(ids))])

    def enable(self, ids: npt.ArrayLike) -> int:
        """Report disabled rows with these ids again; returns rows changed."""
        return self.update([Change("enable", self._ids(ids))])

    # -- compaction ------------------------------------------------------------------------

    def _needs_compaction(self, st: State) -> bool:
        indexed = sum(1 for p in st.parts if p.indexed)
        return indexed > self.max_segments or (
            st.rows > self._cfg.flat_limit and st.removed * 4 > st.rows
        )

    def _maybe_compact(self) -> None:
        if not self.auto_compact or not self._needs_compaction(self._state):
            return
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._worker = threading.Thread(
                target=self._compact_in_background, name="safehold-index-compact", daemon=True
            )
            self._worker.start()

    def _compact_in_background(self) -> None:
        try:
            # Changes that arrived while merging were replayed onto the merged state and may
            # have added segments again; their _maybe_compact calls saw this worker alive and
            # returned, so re-check here (bounded: a merge leaves one segment and no removals).
            for _ in range(3):
                self._compact()
                if not self._needs_compaction(self._state):
                    break
        except BaseException as exc:  # reported by wait()/compact(); queries are unaffected
            log.exception("index compaction failed")
            self._worker_error = exc

    def _compact(self) -> None:
        with self._compacting:  # one compaction at a time (each owns the change log)
            with self._lock:
                start = self._state
                self._log = []
            try:
                merged = merge(start, 0, self._cfg)
            except BaseException:
                with self._lock:
                    self._log = None
                raise
            with self._lock:
                st = merged
                for change in self._log or []:
                    st, _ = apply(st, change, self._cfg)
                self._state = st
                self._log = None

    def wait(self) -> None:
        """Wait for a running background compaction; re-raise its error, if any."""
        worker = self._worker
        if worker is not None:
            worker.join()
            # A change may have landed after the worker's last check and before it exited.
            self._maybe_compact()
            worker = self._worker
            if worker is not None:
                worker.join()
        if self._worker_error is not None:
            error, self._worker_error = self._worker_error, None
            raise error

    def compact(self) -> None:
        """Merge every segment into one indexed segment now (waits for a running one first)."""
        self.wait()
        self._compact()
