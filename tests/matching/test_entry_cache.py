"""EntryCache: per-hit metadata read once, deleted entries cached as None, and no stale entry
kept after an invalidation that raced with the read."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.matching import entry_cache
from safehold.matching.entry_cache import EntryCache
from safehold.matching.queries import EntryMeta, entry_meta

BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_reads_once_and_remembers_missing_entries(
    bank_service: BankService, engine: Engine
) -> None:
    bank = bank_service.create_bank("known")
    bank_service.add_entries("known", [NewEntry("pdq", BRIDGE, source="s")])
    (entry,) = [e.id for e in bank_service.iter_entries("known")]
    cache = EntryCache(engine)
    found = cache.get([entry, entry + 1000])
    assert found == {entry: EntryMeta(entry, bank.id, True, None, "s"), entry + 1000: None}
    assert len(cache) == 2
    bank_service.set_entry_enabled(entry, False)
    assert cache.get([entry])[entry].enabled is True  # cached until invalidated
    cache.invalidate([entry])
    assert cache.get([entry])[entry].enabled is False


def test_a_read_racing_an_invalidation_is_not_kept(
    bank_service: BankService, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank_service.create_bank("known")
    bank_service.add_entries("known", [NewEntry("pdq", BRIDGE)])
    (entry,) = [e.id for e in bank_service.iter_entries("known")]
    cache = EntryCache(engine)

    def read_then_change(engine: Engine, ids: list[int]) -> dict[int, EntryMeta]:
        found = entry_meta(engine, ids)  # the state before the change
        bank_service.set_entry_enabled(entry, False)
        cache.invalidate([entry])  # what a refresh does meanwhile
        return found

    monkeypatch.setattr(entry_cache, "entry_meta", read_then_change)
    assert cache.get([entry])[entry].enabled is True  # this query saw the old state
    monkeypatch.setattr(entry_cache, "entry_meta", entry_meta)
    assert cache.get([entry])[entry].enabled is False  # but did not keep it
