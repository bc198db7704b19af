"""BankService on real SQLite and real PostgreSQL (the ``bank_service`` fixture runs both)."""

from __future__ import annotations

import csv
from datetime import UTC
from pathlib import Path

import pytest

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, InvalidInputError, InvalidSignalError, NotFoundError


def _reference_rows(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        return list(csv.DictReader(f))


def _vpdq_reference(shared_data: Path, name: str = "chair-19-sd-bar") -> str:
    return (shared_data / "reference" / "videos" / "vpdq-hashes" / f"{name}.txt").read_text()


def test_create_and_get_bank(bank_service: BankService) -> None:
    created = bank_service.create_bank(
        "ncmec", description="NCMEC industry list", source="ncmec", thresholds={"pdq": 24}
    )
    got = bank_service.get_bank("ncmec")
    assert got == created
    assert (got.name, got.description, got.source) == ("ncmec", "NCMEC industry list", "ncmec")
    assert got.thresholds == {"pdq": 24}
    assert got.enabled is True
    assert got.entry_count == 0
    assert got.created_at.tzinfo == UTC


def test_bank_names_are_unique_ignoring_case(bank_service: BankService) -> None:
    bank_service.create_bank("demo")
    with pytest.raises(ConflictError):
        bank_service.create_bank("demo")
    with pytest.raises(ConflictError, match="'demo' already exists"):
        bank_service.create_bank("DEMO")


@pytest.mark.parametrize("name", ["", " ", "a b", "-lead", ".hidden", "a/b", "naïve", "x" * 101])
def test_invalid_bank_names_are_refused(bank_service: BankService, name: str) -> None:
    with pytest.raises(InvalidInputError, match="bank name"):
        bank_service.create_bank(name)


@pytest.mark.parametrize("name", ["a", "ncmec-industry_2024.v1", "X" * 100])
def test_valid_bank_names(bank_service: BankService, name: str) -> None:
    assert bank_service.create_bank(name).name == name


@pytest.mark.parametrize(
    ("thresholds", "needle"),
    [
        ({"pdq": 257}, "between 0 and 256"),
        ({"pdq": -1}, "between 0 and 256"),
        ({"md5": 1}, "between 0 and 0"),
        ({"nope": 3}, "unknown signal type 'nope'"),
        ({"pdq": True}, "must be an integer"),
    ],
)
def test_thresholds_are_checked_against_the_signal_type(
    bank_service: BankService, thresholds: dict[str, int], needle: str
) -> None:
    with pytest.raises(InvalidInputError, match=needle):
        bank_service.create_bank("b", thresholds=thresholds)
    with pytest.raises(NotFoundError):
        bank_service.get_bank("b")


def test_update_bank(bank_service: BankService) -> None:
    bank_service.create_bank("b", thresholds={"pdq": 20, "md5": 0})
    updated = bank_service.update_bank("b", description="new", thresholds={"pdq": 30})
    assert updated.description == "new"
    assert updated.thresholds == {"pdq": 30}
    assert updated.updated_at is not None
    assert updated.updated_at >= updated.created_at
    assert bank_service.update_bank("b", enabled=False).enabled is False
    assert bank_service.update_bank("b", thresholds={}).thresholds == {}
    with pytest.raises(NotFoundError):
        bank_service.update_bank("missing", enabled=False)


def test_list_banks_sorted_with_counts(bank_service: BankService) -> None:
    bank_service.create_bank("zeta")
    bank_service.create_bank("alpha")
    bank_service.add_entries("zeta", [NewEntry("md5", "0" * 32), NewEntry("md5", "1" * 32)])
    assert [(b.name, b.entry_count) for b in bank_service.list_banks()] == [
        ("alpha", 0),
        ("zeta", 2),
    ]


def test_add_reference_pdq_hashes_skips_duplicates(
    bank_service: BankService, shared_data: Path
) -> None:
    rows = _reference_rows(shared_data)
    values = [r["pdq"] for r in rows]
    distinct = len(set(values))
    assert distinct < len(values)  # the reference set repeats one hash: a real duplicate
    bank_service.create_bank("reference")
    entries = [NewEntry("pdq", r["pdq"], quality=int(r["pdq_quality"])) for r in rows]
    assert bank_service.add_entries("reference", entries, batch_size=7) == distinct
    assert bank_service.add_entries("reference", entries) == 0
    stored = {e.value for e in bank_service.iter_entries("reference")}
    assert stored == set(values)
    original = next(e for e in bank_service.iter_entries("reference") if e.value == values[0])
    assert original.quality == int(rows[0]["pdq_quality"])


def test_same_hash_may_sit_in_two_banks(bank_service: BankService) -> None:
    for name in ("a", "b"):
        bank_service.create_bank(name)
        assert bank_service.add_entries(name, [NewEntry("sha256", "ab" * 32)]) == 1
    hits = bank_service.find_entries("sha256", "ab" * 32)
    assert sorted(h.bank_name for h in hits) == ["a", "b"]


def test_values_are_stored_canonical(bank_service: BankService, shared_data: Path) -> None:
    row = _reference_rows(shared_data)[0]
    bank_service.create_bank("b")
    bank_service.add_entries("b", [NewEntry("md5", f"  {row['md5'].upper()} ")])
    (entry,) = bank_service.iter_entries("b")
    assert entry.value == row["md5"]
    assert bank_service.add_entries("b", [NewEntry("md5", row["md5"])]) == 0


def test_bad_value_stops_at_its_batch(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    good = [NewEntry("md5", f"{i:032x}") for i in range(4)]
    bad = NewEntry("md5", "f" * 31)
    with pytest.raises(InvalidSignalError, match="32 hexadecimal digits") as info:
        bank_service.add_entries("b", [*good, bad, NewEntry("md5", "e" * 32)], batch_size=2)
    assert "f" * 31 not in info.value.message
    assert bank_service.get_bank("b").entry_count == 4  # the two full batches before it


def test_unknown_signal_type_and_bad_fields(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    with pytest.raises(InvalidSignalError, match="unknown signal type 'tmk'"):
        bank_service.add_entries("b", [NewEntry("tmk", "00")])
    with pytest.raises(InvalidInputError, match="quality"):
        bank_service.add_entries("b", [NewEntry("md5", "0" * 32, quality=101)])
    with pytest.raises(InvalidInputError, match="category code"):
        bank_service.add_entries("b", [NewEntry("md5", "0" * 32, category=Category("x", ""))])
    with pytest.raises(NotFoundError):
        bank_service.add_entries("missing", [NewEntry("md5", "0" * 32)])
    assert bank_service.get_bank("b").entry_count == 0


def test_vpdq_values_round_trip(bank_service: BankService, shared_data: Path) -> None:
    text = _vpdq_reference(shared_data)
    bank_service.create_bank("videos")
    assert bank_service.add_entries("videos", [NewEntry("vpdq", text)]) == 1
    (entry,) = bank_service.iter_entries("videos", signal_type="vpdq")
    assert entry.value.splitlines() == [line for line in text.splitlines() if line.strip()]
    assert bank_service.add_entries("videos", [NewEntry("vpdq", text)]) == 0
    assert [e.id for e in bank_service.find_entries("vpdq", entry.value)] == [entry.id]


def test_iter_entries_filters_and_fields(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    category = Category("ncmec-industry", "A1")
    bank_service.add_entries(
        "b",
        [
            NewEntry("md5", "0" * 32, category=category, source="ncmec", note="first"),
            NewEntry("sha256", "1" * 64),
            NewEntry("md5", "2" * 32),
        ],
    )
    entries = list(bank_service.iter_entries("b"))
    assert [e.signal_type for e in entries] == ["md5", "sha256", "md5"]
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    first = entries[0]
    assert (first.category, first.source, first.note, first.bank_name) == (
        category,
        "ncmec",
        "first",
        "b",
    )
    assert first.added_at.tzinfo == UTC
    assert entries[1].category is None
    assert len(list(bank_service.iter_entries("b", signal_type="md5"))) == 2
    with pytest.raises(NotFoundError):
        bank_service.iter_entries("missing")  # raised by the call, before iteration


def test_disabled_entries_and_banks_do_not_match(bank_service: BankService) -> None:
    for name in ("a", "b"):
        bank_service.create_bank(name)
    bank_service.add_entries("a", [NewEntry("md5", "0" * 32), NewEntry("md5", "1" * 32)])
    bank_service.add_entries("b", [NewEntry("md5", "2" * 32)])
    first, second = bank_service.iter_entries("a")
    bank_service.set_entry_enabled(first.id, False)
    assert [e.id for e in bank_service.matchable_entries("md5")] == [
        second.id,
        *[e.id for e in bank_service.iter_entries("b")],
    ]
    assert [e.id for e in bank_service.iter_entries("a")] == [second.id]
    assert len(list(bank_service.iter_entries("a", include_disabled=True))) == 2
    assert bank_service.get_entry(first.id).enabled is False
    bank_service.update_bank("b", enabled=False)
    assert [e.id for e in bank_service.matchable_entries("md5")] == [second.id]
    assert bank_service.find_entries("md5", "2" * 32) == []
    assert len(bank_service.find_entries("md5", "2" * 32, matchable_only=False)) == 1
    bank_service.set_entry_enabled(first.id, True)
    assert len(bank_service.matchable_entries("md5")) == 2
    assert bank_service.matchable_entries("pdq") == []
    with pytest.raises(NotFoundError):
        bank_service.set_entry_enabled(10**9, False)


def test_change_sequence_grows_on_every_change(bank_service: BankService) -> None:
    seen = [bank_service.change_sequence()]
    assert seen == [0]

    def changed() -> None:
        seen.append(bank_service.change_sequence())
        assert seen[-1] > seen[-2]

    bank_service.create_bank("b")
    changed()
    bank_service.update_bank("b", description="d")
    changed()
    bank_service.add_entries("b", [NewEntry("md5", "0" * 32)])
    changed()
    entry = next(bank_service.iter_entries("b"))
    bank_service.set_entry_enabled(entry.id, False)
    changed()
    bank_service.set_entry_enabled(entry.id, True)
    changed()
    # Nothing new: duplicates only, an empty update.
    bank_service.add_entries("b", [NewEntry("md5", "0" * 32)])
    bank_service.update_bank("b")
    assert bank_service.change_sequence() == seen[-1]


def test_summarize_bank_counts_without_values(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    a1 = Category("ncmec-industry", "A1")
    bank_service.add_entries(
        "b",
        [
            NewEntry("md5", "0" * 32, category=a1),
            NewEntry("md5", "1" * 32, category=a1),
            NewEntry("md5", "2" * 32),
            NewEntry("sha256", "3" * 64, category=a1),
        ],
    )
    disabled = next(bank_service.iter_entries("b"))
    bank_service.set_entry_enabled(disabled.id, False)
    summary = bank_service.summarize_bank("b")
    counts = {(c.signal_type, c.category): (c.enabled, c.disabled) for c in summary.counts}
    assert counts == {
        ("md5", None): (1, 0),
        ("md5", a1): (1, 1),
        ("sha256", a1): (1, 0),
    }
    assert summary.total() == 4
    assert summary.total(enabled_only=True) == 3


def test_every_method_finds_a_bank_ignoring_case(bank_service: BankService) -> None:
    bank_service.create_bank("KNOWN")
    assert bank_service.get_bank("known").name == "KNOWN"
    assert bank_service.add_entries("Known", [NewEntry("md5", "0" * 32)]) == 1
    assert [e.bank_name for e in bank_service.iter_entries("kNoWn")] == ["KNOWN"]
    assert bank_service.summarize_bank("known").total() == 1
    assert bank_service.update_bank("known", enabled=False).name == "KNOWN"
    assert bank_service.get_bank("KNOWN").enabled is False
    with pytest.raises(ConflictError, match="a bank named 'KNOWN' already exists"):
        bank_service.create_bank("known")


def test_non_ascii_names_never_fold_onto_a_bank(bank_service: BankService) -> None:
    bank_service.create_bank("known")
    kelvin = "\u212anown"  # KELVIN SIGN: str.lower() folds it to an ASCII "k"
    assert kelvin.lower() == "known"
    with pytest.raises(NotFoundError, match="no bank named"):
        bank_service.get_bank(kelvin)
    with pytest.raises(NotFoundError):
        bank_service.add_entries(kelvin, [NewEntry("md5", "0" * 32)])


def test_a_very_long_name_is_cut_in_the_message(bank_service: BankService) -> None:
    with pytest.raises(NotFoundError) as info:
        bank_service.get_bank("x" * 5000)
    assert len(info.value.message) < 200
    assert "(5000 characters)" in info.value.message


@pytest.mark.parametrize("entry_id", [0, -1, 2**63, 99999999999999999999999])
def test_entry_ids_out_of_range_are_not_found_on_every_database(
    bank_service: BankService, entry_id: int
) -> None:
    # SQLite raised OverflowError and PostgreSQL NumericValueOutOfRange before the check.
    with pytest.raises(NotFoundError, match=f"^no bank entry with id {entry_id}$"):
        bank_service.set_entry_enabled(entry_id, False)
    with pytest.raises(NotFoundError, match=f"^no bank entry with id {entry_id}$"):
        bank_service.get_entry(entry_id)


def test_largest_entry_id_is_looked_up_and_a_bool_is_refused(bank_service: BankService) -> None:
    with pytest.raises(NotFoundError, match=f"id {2**63 - 1}$"):
        bank_service.get_entry(2**63 - 1)
    with pytest.raises(InvalidInputError, match="must be an integer"):
        bank_service.set_entry_enabled(True, False)


def test_iter_entries_refuses_an_unknown_signal_type(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    with pytest.raises(InvalidInputError, match=r"unknown signal type 'nosuch' \(known: md5"):
        bank_service.iter_entries("b", signal_type="nosuch")


def test_get_entries_by_id_in_chunks(bank_service: BankService) -> None:
    bank_service.create_bank("a")
    bank_service.create_bank("b")
    md5s = [
        NewEntry("md5", f"{i:032x}", category=Category("local", "x"), source="s")
        for i in range(1, 1201)
    ]
    bank_service.add_entries("a", md5s)  # more than two ID_CHUNKs
    bank_service.add_entries("b", [NewEntry("pdq", "f" * 64)])
    (b_entry,) = bank_service.iter_entries("b")
    off = next(iter(bank_service.iter_entries("a"))).id
    bank_service.set_entry_enabled(off, False)
    every = {
        e.id: e
        for name in ("a", "b")
        for e in bank_service.iter_entries(name, include_disabled=True)
    }
    assert len(every) == 1201
    beyond = [max(every) + 1, 2**63 - 1, 2**63, 0]  # unknown or impossible ids are absent
    got = bank_service.get_entries([*every, *beyond, off, off])
    assert got == every
    assert got[off].enabled is False
    assert (got[b_entry.id].bank_name, got[b_entry.id].value) == ("b", "f" * 64)
    assert bank_service.get_entries([]) == {}
    with pytest.raises(InvalidInputError):
        bank_service.get_entries(["1"])  # type: ignore[list-item]


def test_count_matchable_by_bank(bank_service: BankService) -> None:
    for name in ("a", "b", "c"):
        bank_service.create_bank(name)
    bank_service.add_entries("a", [NewEntry("pdq", f"{i:064x}") for i in range(1, 4)])
    bank_service.add_entries("a", [NewEntry("md5", "1" * 32)])
    bank_service.add_entries("b", [NewEntry("pdq", f"{i:064x}") for i in range(1, 3)])
    bank_service.add_entries("c", [NewEntry("pdq", "f" * 64)])
    bank_service.update_bank("c", enabled=False)
    bank_service.set_entry_enabled(next(iter(bank_service.iter_entries("a"))).id, False)
    assert bank_service.count_matchable("pdq") == {"a": 2, "b": 2}
    assert bank_service.count_matchable("pdq", ["B", "c"]) == {"b": 2}
    assert bank_service.count_matchable("pdq", ["c"]) == {}
    assert bank_service.count_matchable("md5") == {"a": 1}
    assert bank_service.count_matchable("sha256") == {}
    assert bank_service.count_matchable("no-such-type") == {}
