"""BankChangeFeed: an index opened from a snapshot and replayed equals one built from storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safehold.banks.feed import BankChangeFeed
from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.index import hex_to_rows, open_index

A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
B = "0" * 64
C = "f" * 64
D = "0f" * 32


def _ids(service: BankService, bank: str) -> dict[str, int]:
    return {e.value: e.id for e in service.iter_entries(bank, include_disabled=True)}


def _live(index_search: tuple[np.ndarray, np.ndarray]) -> list[int]:
    return sorted(index_search[0].tolist())


def test_full_load_marks_disabled_entries_and_banks(bank_service: BankService) -> None:
    bank_service.create_bank("one")
    bank_service.create_bank("two")
    bank_service.add_entries(
        "one", [NewEntry("pdq", A), NewEntry("pdq", B), NewEntry("md5", "a" * 32)]
    )
    bank_service.add_entries("two", [NewEntry("pdq", C)])
    one, two = _ids(bank_service, "one"), _ids(bank_service, "two")
    bank_service.set_entry_enabled(one[B], False)
    bank_service.update_bank("two", enabled=False)
    feed = BankChangeFeed(bank_service, "pdq", hex_to_rows)
    full = feed.full_load()
    assert full.ids.tolist() == sorted([one[A], one[B], two[C]])  # md5 is another index
    assert full.rows.tolist() == hex_to_rows([A, B, C]).tolist()
    assert sorted(full.disabled.tolist()) == sorted([one[B], two[C]])
    assert full.change_seq == bank_service.change_sequence() == feed.current_sequence()


def test_replay_brings_a_snapshot_up_to_date(bank_service: BankService, tmp_path: Path) -> None:
    bank_service.create_bank("one")
    bank_service.create_bank("two")
    bank_service.add_entries("one", [NewEntry("pdq", A), NewEntry("pdq", B)])
    bank_service.add_entries("two", [NewEntry("pdq", C)])
    feed = BankChangeFeed(bank_service, "pdq", hex_to_rows)
    path = tmp_path / "pdq.snapshot"
    first = open_index(path, feed, source="db")
    assert first.origin == "rebuilt"
    one, two = _ids(bank_service, "one"), _ids(bank_service, "two")

    bank_service.add_entries("one", [NewEntry("pdq", D)])  # added
    bank_service.set_entry_enabled(one[A], False)  # entry disabled
    bank_service.update_bank("two", enabled=False)  # bank disabled
    d = _ids(bank_service, "one")[D]
    again = open_index(path, feed, source="db")
    assert (again.origin, again.change_seq) == ("snapshot", bank_service.change_sequence())
    queries = hex_to_rows([A, B, C, D])
    assert [_live(again.index.search(q, 0)) for q in queries] == [[], [one[B]], [], [d]]
    assert feed.replayed_ids == 3  # D and A touched, C through its bank

    bank_service.set_entry_enabled(one[A], True)
    bank_service.update_bank("two", enabled=True)
    third = open_index(path, feed, source="db")
    assert third.origin == "snapshot"
    assert [_live(third.index.search(q, 0)) for q in queries] == [[one[A]], [one[B]], [two[C]], [d]]
    # the snapshot still holds the first state; replaying the same window twice is harmless
    fourth = open_index(path, feed, source="db")
    assert [_live(fourth.index.search(q, 0)) for q in queries] == [
        [one[A]],
        [one[B]],
        [two[C]],
        [d],
    ]
    assert len(fourth.index) == 4


def test_source_names_the_history_up_to_a_sequence(bank_service: BankService) -> None:
    bank_service.create_bank("one")
    feed = BankChangeFeed(bank_service, "pdq", hex_to_rows)
    seq = feed.current_sequence()
    before = feed.source_for(seq)
    assert before == feed.source_for(seq)
    assert before.startswith("banks:pdq:")
    bank_service.add_entries("one", [NewEntry("pdq", A)])
    assert feed.source_for(seq) == before  # later changes do not change the past
    assert feed.source_for(feed.current_sequence()) != before
    assert feed.source_for(seq + 100) != feed.source_for(seq)  # no such change yet
    assert BankChangeFeed(bank_service, "vpdq", hex_to_rows).source_for(seq) != before


def test_replay_removes_deleted_entries_and_banks(
    bank_service: BankService, tmp_path: Path
) -> None:
    bank_service.create_bank("one")
    bank_service.create_bank("two")
    bank_service.add_entries("one", [NewEntry("pdq", A), NewEntry("pdq", B)])
    bank_service.add_entries("two", [NewEntry("pdq", C), NewEntry("md5", "a" * 32)])
    feed = BankChangeFeed(bank_service, "pdq", hex_to_rows)
    path = tmp_path / "pdq.snapshot"
    assert open_index(path, feed, source="db").origin == "rebuilt"
    one = _ids(bank_service, "one")

    bank_service.delete_entry(one[A])
    bank_service.delete_bank("two")
    bank_service.add_entries("one", [NewEntry("pdq", D)])
    d = _ids(bank_service, "one")[D]
    again = open_index(path, feed, source="db")
    assert again.origin == "snapshot"
    queries = hex_to_rows([A, B, C, D])
    assert [_live(again.index.search(q, 0)) for q in queries] == [[], [one[B]], [], [d]]
    assert feed.replayed_ids == 3  # A and C buried (md5 is another index), D added
    full = feed.full_load()
    assert full.ids.tolist() == [one[B], d]

    # a deleted entry re-added gets a new id; the replay keeps only the new one
    bank_service.add_entries("one", [NewEntry("pdq", A)])
    new_a = _ids(bank_service, "one")[A]
    assert new_a > d
    third = open_index(path, feed, source="db")
    assert _live(third.index.search(queries[0], 0)) == [new_a]
