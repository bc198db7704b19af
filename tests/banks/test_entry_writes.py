"""Entry changes (single add, update, delete, the bank's category) on real SQLite and real
PostgreSQL (the ``bank_service`` fixture runs both)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, InvalidInputError, InvalidSignalError, NotFoundError
from safehold.storage.tables import changes, entry_tombstones

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
LOCAL = Category("local", "demo")
VICS = Category("vics", "1")


def _last_change(service: BankService) -> tuple[str, int | None, int | None, int]:
    with service.engine.connect() as c:
        row = c.execute(select(changes).order_by(changes.c.id.desc()).limit(1)).one()
    return (row.kind, row.bank_id, row.entry_id, row.count)


def _tombstones(service: BankService) -> list[tuple[int, str]]:
    with service.engine.connect() as c:
        rows = c.execute(select(entry_tombstones).order_by(entry_tombstones.c.entry_id)).all()
    return [(r.entry_id, r.signal_type) for r in rows]


def test_add_entry_returns_the_stored_entry(bank_service: BankService) -> None:
    bank = bank_service.create_bank("b", category=LOCAL)
    entry = bank_service.add_entry("B", NewEntry("pdq", PDQ.upper(), quality=90, note="n"))
    assert entry == bank_service.get_entry(entry.id)
    assert (entry.bank_name, entry.value, entry.quality, entry.note) == ("b", PDQ, 90, "n")
    assert entry.category == LOCAL  # the bank's, as the entry has none
    assert _last_change(bank_service) == ("entries_added", bank.id, entry.id, 1)
    own = bank_service.add_entry("b", NewEntry("md5", "a" * 32, category=VICS))
    assert own.category == VICS


def test_add_entry_refuses_a_duplicate_without_echoing_it(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    first = bank_service.add_entry("b", NewEntry("pdq", PDQ))
    seq = bank_service.change_sequence()
    with pytest.raises(ConflictError) as caught:
        bank_service.add_entry("b", NewEntry("pdq", PDQ.upper()))
    assert f"entry {first.id}" in caught.value.message
    assert PDQ not in caught.value.message.lower()
    assert bank_service.change_sequence() == seq
    bank_service.create_bank("other")
    assert bank_service.add_entry("other", NewEntry("pdq", PDQ)).id != first.id


def test_add_entry_checks_its_input(bank_service: BankService) -> None:
    with pytest.raises(NotFoundError):
        bank_service.add_entry("missing", NewEntry("md5", "a" * 32))
    bank_service.create_bank("b")
    with pytest.raises(InvalidSignalError):
        bank_service.add_entry("b", NewEntry("pdq", "12"))
    with pytest.raises(InvalidInputError, match="quality"):
        bank_service.add_entry("b", NewEntry("md5", "a" * 32, quality=101))
    assert bank_service.get_bank("b").entry_count == 0


def test_bulk_added_entries_get_the_bank_category(bank_service: BankService) -> None:
    bank_service.create_bank("b", category=LOCAL)
    entries = [NewEntry("md5", "0" * 32), NewEntry("md5", "1" * 32, category=VICS)]
    assert bank_service.add_entries("b", entries) == 2
    assert [e.category for e in bank_service.iter_entries("b")] == [LOCAL, VICS]


def test_update_entry(bank_service: BankService) -> None:
    bank = bank_service.create_bank("b")
    entry = bank_service.add_entry("b", NewEntry("md5", "a" * 32, note="old"))
    updated = bank_service.update_entry(entry.id, category=VICS, note="new", enabled=False)
    assert (updated.category, updated.note, updated.enabled) == (VICS, "new", False)
    assert _last_change(bank_service) == ("entry_updated", bank.id, entry.id, 1)
    assert bank_service.matchable_entries("md5") == []
    cleared = bank_service.update_entry(entry.id, clear_category=True, enabled=True)
    assert (cleared.category, cleared.note, cleared.enabled) == (None, "new", True)
    seq = bank_service.change_sequence()
    assert bank_service.update_entry(entry.id) == cleared  # nothing given: no change
    assert bank_service.change_sequence() == seq
    with pytest.raises(NotFoundError):
        bank_service.update_entry(entry.id + 1000, note="x")
    with pytest.raises(InvalidInputError, match="not both"):
        bank_service.update_entry(entry.id, category=VICS, clear_category=True)


def test_delete_entry_leaves_a_tombstone(bank_service: BankService) -> None:
    bank = bank_service.create_bank("b")
    entry = bank_service.add_entry("b", NewEntry("pdq", PDQ))
    bank_service.delete_entry(entry.id)
    with pytest.raises(NotFoundError):
        bank_service.get_entry(entry.id)
    assert _last_change(bank_service) == ("entries_deleted", bank.id, entry.id, 1)
    assert _tombstones(bank_service) == [(entry.id, "pdq")]
    with pytest.raises(NotFoundError, match=f"no bank entry with id {entry.id}"):
        bank_service.delete_entry(entry.id)


def test_delete_entries_of_one_bank(bank_service: BankService) -> None:
    a = bank_service.create_bank("a")
    bank_service.create_bank("other")
    bank_service.add_entries("a", [NewEntry("md5", f"{i:032x}") for i in range(1200)])
    ids = [e.id for e in bank_service.iter_entries("a")]
    stranger = bank_service.add_entry("other", NewEntry("md5", "f" * 32))
    doomed = [*ids[:1100], stranger.id, 2**63 - 1, 2**70]  # over two ID_CHUNKs
    assert bank_service.delete_entries(doomed, bank_name="A") == 1100
    assert [e.id for e in bank_service.iter_entries("a")] == ids[1100:]
    assert bank_service.get_entry(stranger.id).bank_name == "other"  # another bank: kept
    assert _last_change(bank_service) == ("entries_deleted", a.id, None, 1100)
    assert len(_tombstones(bank_service)) == 1100
    seq = bank_service.change_sequence()
    assert bank_service.delete_entries(ids[:5], bank_name="a") == 0  # gone already
    assert bank_service.delete_entries([]) == 0
    assert bank_service.change_sequence() == seq  # nothing deleted: no change recorded
    assert bank_service.delete_entries([stranger.id]) == 1  # any bank without bank_name
    with pytest.raises(NotFoundError):
        bank_service.delete_entries([1], bank_name="missing")
    with pytest.raises(InvalidInputError):
        bank_service.delete_entries(["1"])  # type: ignore[list-item]


def test_deleted_ids_are_never_given_again(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    first = bank_service.add_entry("b", NewEntry("md5", "a" * 32))
    bank_service.delete_entry(first.id)  # the newest entry: SQLite would reuse its rowid
    again = bank_service.add_entry("b", NewEntry("md5", "a" * 32))
    assert again.id > first.id
    bank_service.delete_entry(again.id)
    bank_service.add_entries("b", [NewEntry("md5", "b" * 32)])
    assert next(bank_service.iter_entries("b")).id > again.id


def test_adding_to_a_bank_deleted_meanwhile_stops(bank_service: BankService) -> None:
    bank_service.create_bank("b")

    def entries() -> Iterator[NewEntry]:
        yield NewEntry("md5", "0" * 32)
        bank_service.delete_bank("b")
        yield NewEntry("md5", "1" * 32)

    with pytest.raises(NotFoundError, match="deleted meanwhile"):
        bank_service.add_entries("b", entries(), batch_size=1)
