"""Per-hit entry metadata for the PDQ index, cached so a repeated hit costs no database trip.

The PDQ index holds every PDQ entry's hash but no metadata (at 10M entries that would be
gigabytes); a hit's bank, category and source are read by primary key when the entry is first
hit (:func:`safehold.matching.queries.entry_meta`) and kept. A deleted entry is cached as
None, so a hit on it is dropped even while the index still holds its row.

:meth:`EntryCache.invalidate` drops the entries a refresh saw change. A look-up that raced
with an invalidation (it read the database before the change, stores after the invalidation)
would otherwise cache the old state for good; each invalidation bumps an epoch and a look-up
only stores what it read if the epoch did not move meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine

from safehold.matching.queries import EntryMeta, entry_meta

#: Entries kept at most; the cache starts afresh beyond it (hits are rare: at 50 bytes of
#: key and a small object each, this is a few tens of MiB at most).
MAX_ENTRIES = 200_000
#: Invalidations larger than this clear the whole cache instead (a bulk import).
CLEAR_ABOVE = 10_000


class EntryCache:
    """Entry id -> :class:`EntryMeta` (None: deleted), filled on demand; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._entries: dict[int, EntryMeta | None] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, ids: Sequence[int]) -> dict[int, EntryMeta | None]:
        """Metadata of ``ids`` (None for ids with no entry); unseen ids are read in one query.

        Raises:
            StorageError: the database fails.
        """
        known = self._entries
        out: dict[int, EntryMeta | None] = {}
        missing: list[int] = []
        for entry_id in ids:
            try:
                out[entry_id] = known[entry_id]
            except KeyError:
                missing.append(entry_id)
        if not missing:
            return out
        epoch = self._epoch
        found = entry_meta(self.engine, missing)
        fresh = {entry_id: found.get(entry_id) for entry_id in missing}
        out.update(fresh)
        with self._lock:
            if self._epoch == epoch:
                if len(known) + len(fresh) > MAX_ENTRIES:
                    known.clear()
                known.update(fresh)
        return out

    def invalidate(self, ids: Iterable[int]) -> None:
        """Forget these entries (they changed); the next hit reads them again."""
        listed = list(ids)
        with self._lock:
            self._epoch += 1
            if len(listed) > CLEAR_ABOVE:
                self._entries.clear()
                return
            for entry_id in listed:
                self._entries.pop(entry_id, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
