"""What a live matcher reports about itself (``GET /v1/index/status``, ``/readyz``).

Entry counts of byte-exact types are not held in memory (those entries live only in the
database), so :class:`ExactCounts` counts them with one ``COUNT`` per type, off the request
path, and keeps the numbers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from safehold.banks.service import BankService

#: Seconds at least between two counts of exact-type entries (a ``COUNT`` over millions of
#: rows, made only after the banks changed).
COUNT_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """What :meth:`LiveMatcher.status` reports (``GET /v1/index/status``).

    Attributes:
        ready: the index is loaded; queries before that raise ``IndexNotReadyError``.
        change_seq: the bank change sequence applied.
        entries: matchable entries per signal type (enabled entries of enabled banks).
        origin: ``snapshot`` (loaded and caught up) or ``rebuilt``; None before loading.
        seconds_since_refresh: since the last successful load or refresh (None: never).
        last_error: the last load/refresh failure (cleared on success), no hash values.
    """

    ready: bool
    change_seq: int
    entries: dict[str, int] = field(default_factory=dict)
    origin: str | None = None
    seconds_since_refresh: float | None = None
    last_error: str | None = None


class ExactCounts:
    """Matchable entries per byte-exact signal type, counted in the database and kept.

    :meth:`get` never queries (health checks and metrics call it on every scrape); the
    matcher counts at load and, after bank changes, at most every :data:`COUNT_TTL_S`
    seconds (:meth:`update`), so the numbers may lag the banks by that much.
    """

    def __init__(self, banks: BankService) -> None:
        self.banks = banks
        self._counts: dict[str, int] = {}
        self._at: float | None = None
        self._changed = True

    def get(self) -> dict[str, int]:
        """The last counts, by signal type."""
        return dict(self._counts)

    def changed(self) -> None:
        """The banks changed: count again when due."""
        self._changed = True

    def update(self, names: Sequence[str], *, force: bool = False) -> None:
        """Count ``names`` again if forced, or if the banks changed and the last count is
        :data:`COUNT_TTL_S` seconds old.

        Raises:
            StorageError: the database fails.
        """
        now = time.monotonic()
        due = self._changed and (self._at is None or now - self._at >= COUNT_TTL_S)
        if not (force or due):
            return
        self._counts = {name: sum(self.banks.count_matchable(name).values()) for name in names}
        self._at, self._changed = now, False
