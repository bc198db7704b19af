"""Start-up: open an index from its snapshot and catch up with storage, or rebuild it.

The index package never imports storage (docs/architecture.md), so storage is reached
through the small :class:`ChangeFeed` protocol that the bank service implements:

* ``current_sequence()``: storage's bank change sequence now;
* ``changes_since(seq)``: the changes after ``seq`` as :class:`~safehold.index.state.Change`
  objects plus the sequence they bring the index to, or None when storage cannot replay
  from ``seq`` (its change log was trimmed): the snapshot is then stale;
* ``full_load()``: every matchable row (ids, rows, disabled ids) and the sequence it reflects.

:func:`open_index` returns a ready index or raises; there is no half-loaded state that could
answer "no match". :class:`IndexSlot` is the holder a service keeps while loading: reading
it before an index is published raises :class:`~safehold.index.errors.IndexNotReadyError`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from safehold.index.binary import BinaryIndex
from safehold.index.errors import IndexNotReadyError, SnapshotError
from safehold.index.state import Change

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ChangeBatch:
    """Changes after some sequence, in order, and the sequence they end at."""

    changes: Sequence[Change]
    change_seq: int


@dataclass(frozen=True, eq=False)
class FullLoad:
    """Everything to index: ``(n,)`` ids, ``(n, words)`` uint64 rows, disabled ids, sequence."""

    ids: npt.NDArray[np.int64]
    rows: npt.NDArray[np.uint64]
    disabled: npt.NDArray[np.int64]
    change_seq: int


class ChangeFeed(Protocol):
    """What :func:`open_index` needs from storage (implemented by the bank service)."""

    def current_sequence(self) -> int:
        """Storage's change sequence now."""
        ...

    def changes_since(self, change_seq: int) -> ChangeBatch | None:
        """Changes after ``change_seq``, or None when they can no longer be replayed."""
        ...

    def full_load(self) -> FullLoad:
        """Every row to index, with the sequence it reflects."""
        ...


@dataclass(frozen=True, eq=False)
class Opened:
    """Result of :func:`open_index`.

    Attributes:
        index: the ready index.
        change_seq: the bank change sequence it reflects.
        origin: ``snapshot`` (loaded and caught up) or ``rebuilt`` (from ``full_load``).
        reason: why the snapshot was not used (a ``SnapshotError.reason``), else None.
    """

    index: BinaryIndex
    change_seq: int
    origin: Literal["snapshot", "rebuilt"]
    reason: str | None = None


def open_index(
    path: Path,
    feed: ChangeFeed,
    *,
    bits: int = 256,
    source: str = "",
    save_rebuilt: bool = True,
    **options: Any,
) -> Opened:
    """Load the snapshot at ``path`` and replay later changes; rebuild when it is unusable.

    A snapshot that is missing, corrupt, of another version, bits or source, ahead of storage,
    or older than storage can replay is never searched: the index is rebuilt from
    ``feed.full_load()`` and (``save_rebuilt``) saved back to ``path``.

    Raises:
        Whatever ``feed`` raises (e.g. ``StorageError``): then there is no index at all.
    """
    try:
        index, seq = BinaryIndex.load(
            path, bits=bits, source=source, max_change_seq=feed.current_sequence(), **options
        )
        batch = feed.changes_since(seq)
        if batch is None:
            raise SnapshotError("storage can no longer replay changes since the snapshot", "stale")
        if batch.changes:
            index.update(batch.changes)
        return Opened(index, batch.change_seq, "snapshot")
    except SnapshotError as exc:
        log.warning("index snapshot %s not used (%s); rebuilding from storage", path, exc.reason)
        reason = exc.reason
    full = feed.full_load()
    index = BinaryIndex.from_arrays(
        full.ids, full.rows, bits=bits, disabled=full.disabled, **options
    )
    if save_rebuilt:
        index.save(path, full.change_seq, source=source)
    return Opened(index, full.change_seq, "rebuilt", reason)


class IndexSlot:
    """Holds the index a service searches; empty until :meth:`publish` is called."""

    def __init__(self) -> None:
        self._opened: Opened | None = None
        self._ready = threading.Event()

    def publish(self, opened: Opened) -> None:
        """Make ``opened`` the index that :meth:`get` returns."""
        self._opened = opened
        self._ready.set()

    def get(self) -> Opened:
        """The published index.

        Raises:
            IndexNotReadyError: nothing is published yet (loading or rebuilding).
        """
        opened = self._opened
        if opened is None:
            raise IndexNotReadyError("the match index is still loading; retry shortly")
        return opened

    def wait(self, timeout: float | None = None) -> bool:
        """Block until an index is published (True) or ``timeout`` seconds pass (False)."""
        return self._ready.wait(timeout)
