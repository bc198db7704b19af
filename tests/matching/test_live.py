"""LiveMatcher: matching with the scan's rules, and following bank changes made by any process
(SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, update

from safehold.banks.models import Category, NewEntry
from safehold.banks.rows import record_change
from safehold.banks.service import BankService
from safehold.errors import ConflictError, InvalidInputError, InvalidSignalError, NotFoundError
from safehold.index import IndexNotReadyError
from safehold.matching import LiveMatcher, hash_upload
from safehold.settings import Settings
from safehold.storage.tables import bank_entries, entry_tombstones

MakeMatcher = Callable[..., LiveMatcher]

# The bridge's reference PDQ (Meta's Java test value, quoted in shared/data/README.md).
BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flip(value: str, bits: int, start: int = 0) -> str:
    """``value`` with bits ``start .. start + bits - 1`` flipped (distance ``bits``)."""
    number = int(value, 16)
    for i in range(start, start + bits):
        number ^= 1 << i
    return f"{number:064x}"


def _add(service: BankService, bank: str, *values: str, signal_type: str = "pdq") -> list[int]:
    """Add entries to ``bank`` (created when missing); return the new entries' ids."""
    if bank.lower() not in {b.name.lower() for b in service.list_banks()}:
        service.create_bank(bank, source=f"{bank}-source")
    before = {e.id for e in service.iter_entries(bank, include_disabled=True)}
    service.add_entries(
        bank,
        [NewEntry(signal_type, v, category=Category("local", bank), source="t") for v in values],
    )
    return sorted({e.id for e in service.iter_entries(bank, include_disabled=True)} - before)


def _hits(matcher: LiveMatcher, value: str = BRIDGE, **kw: object) -> list[tuple[str, int, int]]:
    return [(m.bank, m.entry_id, m.distance) for m in matcher.match_value("pdq", value, **kw)]  # type: ignore[arg-type]


def _delete_entry(engine: Engine, entry_id: int, signal_type: str) -> None:
    """Delete an entry as the bank service's deletion does: tombstone, change, row gone."""
    with engine.begin() as c:
        seq = record_change(c, "entries_deleted", entry_id=entry_id, count=1)
        c.execute(
            insert(entry_tombstones).values(
                entry_id=entry_id, signal_type=signal_type, change_seq=seq
            )
        )
        c.execute(delete(bank_entries).where(bank_entries.c.id == entry_id))


def test_a_bank_change_is_matched_after_refresh(
    bank_service: BankService, make_matcher: MakeMatcher
) -> None:
    matcher = make_matcher()
    assert _hits(matcher) == []
    assert matcher.refresh() == 0  # nothing changed
    (entry,) = _add(bank_service, "known", flip(BRIDGE, 5))
    assert _hits(matcher) == []  # not yet applied
    assert matcher.refresh() > 0
    assert _hits(matcher) == [("known", entry, 5)]
    (match,) = matcher.match_value("pdq", BRIDGE)
    assert match.category == "local:known"
    assert match.source == "t"
    assert match.variant is None


def test_two_workers_see_a_change_within_a_second(
    bank_service: BankService, other_service: BankService, make_matcher: MakeMatcher
) -> None:
    first = make_matcher(load=False)
    second = make_matcher(load=False, service=other_service)
    for matcher in (first, second):
        matcher.start_polling(0.05)
    deadline = time.monotonic() + 30
    while not (first.ready and second.ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    (entry,) = _add(bank_service, "known", flip(BRIDGE, 2))
    changed = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < 2 and time.monotonic() - changed < 1.0:
        for name, matcher in (("first", first), ("second", second)):
            if name not in seen and _hits(matcher) == [("known", entry, 2)]:
                seen[name] = time.monotonic() - changed
        time.sleep(0.01)
    assert sorted(seen) == ["first", "second"], seen


def test_disabled_entries_and_banks_stop_matching(
    bank_service: BankService, make_matcher: MakeMatcher
) -> None:
    matcher = make_matcher()
    a, b = _add(bank_service, "known", flip(BRIDGE, 1), flip(BRIDGE, 3, start=100))
    matcher.refresh()
    assert [h[1] for h in _hits(matcher)] == [a, b]
    bank_service.set_entry_enabled(a, False)
    matcher.refresh()
    assert [h[1] for h in _hits(matcher)] == [b]
    bank_service.update_bank("known", enabled=False)
    matcher.refresh()
    assert _hits(matcher) == []
    assert matcher.status().entries["pdq"] == 0
    bank_service.update_bank("known", enabled=True)
    bank_service.set_entry_enabled(a, True)
    matcher.refresh()
    assert [h[1] for h in _hits(matcher)] == [a, b]


def test_threshold_changes_apply_and_overrides_win(
    bank_service: BankService, make_matcher: MakeMatcher
) -> None:
    (entry,) = _add(bank_service, "known", flip(BRIDGE, 20))
    matcher = make_matcher()
    assert _hits(matcher) == [("known", entry, 20)]  # settings default 31
    bank_service.update_bank("known", thresholds={"pdq": 10})
    matcher.refresh()
    assert _hits(matcher) == []
    assert _hits(matcher, overrides={"pdq": 25}) == [("known", entry, 20)]
    bank_service.update_bank("known", thresholds={"pdq": 20})  # inclusive
    matcher.refresh()
    assert _hits(matcher) == [("known", entry, 20)]
    assert _hits(matcher, overrides={"pdq": 19}) == []


def test_settings_default_threshold_and_pdq_quality_floor(
    bank_service: BankService, make_matcher: MakeMatcher
) -> None:
    _add(bank_service, "known", flip(BRIDGE, 20))
    strict = make_matcher(pdq_threshold=15)
    assert _hits(strict) == []
    assert strict.match_value("pdq", BRIDGE, quality=49) == []  # below pdq_min_quality 50
    assert len(strict.match_value("pdq", flip(BRIDGE, 10), quality=50)) == 1


def test_pdq_bank_from_benign_images(
    bank_service: BankService,
    make_matcher: MakeMatcher,
    images: Path,
    expected_hashes: dict[str, dict[str, str]],
    db_settings: Settings,
) -> None:
    original = expected_hashes["aaa-orig.jpg"]["pdq"]
    (entry,) = _add(bank_service, "bridge", original)
    matcher = make_matcher()
    for edit in sorted((images / "bridge-mods").glob("*.jpg")):
        signals = hash_upload(edit.read_bytes(), db_settings, ["pdq"]).signals
        (match,) = matcher.match(signals)
        assert (match.bank, match.entry_id) == ("bridge", entry), edit.name
        assert match.distance <= 31
    for negative in sorted((images / "reg-test-input" / "labelme-subset").glob("*.jpg")):
        signals = hash_upload(negative.read_bytes(), db_settings, ["pdq"]).signals
        assert matcher.match(signals) == [], negative.name


def test_md5_and_sha256_exact_matches(
    bank_service: BankService,
    make_matcher: MakeMatcher,
    images: Path,
    expected_hashes: dict[str, dict[str, str]],
    db_settings: Settings,
) -> None:
    row = expected_hashes["pen-and-coaster.png"]
    bank_service.create_bank("exact")
    matcher = make_matcher()
    (md5_entry,) = _add(bank_service, "exact", row["md5"], signal_type="md5")
    (sha_entry,) = _add(bank_service, "exact", row["sha256"], signal_type="sha256")
    # no refresh needed for entries of a known bank: exact entries are looked up per query
    hashed = hash_upload(
        (images / "reg-test-input" / "pen-and-coaster.png").read_bytes(), db_settings
    )
    found = {(m.signal_type, m.entry_id, m.distance) for m in matcher.match(hashed.signals)}
    assert {("md5", md5_entry, 0), ("sha256", sha_entry, 0)} <= found
    assert matcher.match_value("md5", row["md5"].upper())[0].entry_id == md5_entry
    bank_service.set_entry_enabled(md5_entry, False)
    assert matcher.match_value("md5", row["md5"]) == []
    assert matcher.match_value("md5", expected_hashes["c.png"]["md5"]) == []


def test_vpdq_entries_added_later_are_matched(
    bank_service: BankService, make_matcher: MakeMatcher, videos: Path, db_settings: Settings
) -> None:
    matcher = make_matcher()
    bank_signal = hash_upload(videos / "chair-orig-22-sd-bar.mp4", db_settings, ["vpdq"])
    query = hash_upload(videos / "chair-22-sd-grey-bar.mp4", db_settings, ["vpdq"]).signals
    (entry,) = _add(bank_service, "video", bank_signal.signals["vpdq"].value, signal_type="vpdq")
    assert matcher.match(query) == []
    matcher.refresh()
    (match,) = matcher.match(query)
    assert (match.bank, match.entry_id, match.signal_type) == ("video", entry, "vpdq")
    assert matcher.status().entries["vpdq"] == 1
    negative = hash_upload(videos / "doorknob-hd-no-bar.mp4", db_settings, ["vpdq"]).signals
    assert matcher.match(negative) == []


def test_deleted_entries_never_match(
    bank_service: BankService, make_matcher: MakeMatcher, engine: Engine
) -> None:
    a, b, c = _add(bank_service, "known", flip(BRIDGE, 1), flip(BRIDGE, 2, 50), flip(BRIDGE, 3, 90))
    (md5,) = _add(bank_service, "known", "0" * 32, signal_type="md5")
    matcher = make_matcher()
    untouched = make_matcher()  # loaded, never queried: nothing cached
    assert [h[1] for h in _hits(matcher)] == [a, b, c]
    _delete_entry(engine, a, "pdq")
    _delete_entry(engine, md5, "md5")
    assert matcher.match_value("md5", "0" * 32) == []  # looked up in the database
    matcher.refresh()
    assert [h[1] for h in _hits(matcher)] == [b, c]
    # a row gone with no tombstone yet, while the index still holds it: the per-hit
    # look-up finds no entry, so the hit is dropped
    with engine.begin() as conn:
        conn.execute(delete(bank_entries).where(bank_entries.c.id == c))
    assert [h[1] for h in _hits(untouched, flip(BRIDGE, 3, 90))] == [b]


def test_entry_metadata_cache_follows_entry_updates(
    bank_service: BankService, make_matcher: MakeMatcher, engine: Engine
) -> None:
    (entry,) = _add(bank_service, "known", BRIDGE)
    matcher = make_matcher()
    assert matcher.match_value("pdq", BRIDGE)[0].category == "local:known"
    with engine.begin() as c:  # what an entry update does: a change and the row's change_seq
        seq = record_change(c, "entry_updated", entry_id=entry, count=1)
        c.execute(
            update(bank_entries)
            .where(bank_entries.c.id == entry)
            .values(category_scheme="vics", category_code="1", change_seq=seq)
        )
    assert matcher.match_value("pdq", BRIDGE)[0].category == "local:known"  # cached
    matcher.refresh()
    assert matcher.match_value("pdq", BRIDGE)[0].category == "vics:1"


def test_bank_restriction_and_action(
    bank_service: BankService, make_matcher: MakeMatcher, engine: Engine
) -> None:
    (low,) = _add(bank_service, "Low", flip(BRIDGE, 1))
    (high,) = _add(bank_service, "high", flip(BRIDGE, 2, 30))
    _add(bank_service, "off", flip(BRIDGE, 3, 60))
    bank_service.update_bank("off", enabled=False)
    matcher = make_matcher()
    assert [h[1] for h in _hits(matcher, bank_names=["low"])] == [low]
    with pytest.raises(NotFoundError):
        _hits(matcher, bank_names=["nope"])
    with pytest.raises(ConflictError):
        _hits(matcher, bank_names=["off"])
    matches = matcher.match_value("pdq", BRIDGE)
    assert [m.entry_id for m in matches] == [low, high]
    assert matcher.action_for(matches) == "review"  # the schema default
    assert matcher.action_for([]) == "none"
    bank_service.update_bank("HIGH", match_action="block")
    matcher.refresh()
    assert matcher.action_for(matches) == "block"
    assert matcher.action_for(matches[:1]) == "review"


def test_bad_input_is_refused_without_echoing_hashes(make_matcher: MakeMatcher) -> None:
    matcher = make_matcher()
    with pytest.raises(InvalidSignalError) as caught:
        matcher.match_value("pdq", BRIDGE[:-1] + "g")
    assert BRIDGE[:40] not in str(caught.value)
    with pytest.raises(InvalidInputError, match="unknown signal type"):
        matcher.match_value(BRIDGE, BRIDGE)
    with pytest.raises(InvalidInputError):
        matcher.match_value("pdq", BRIDGE, overrides={"pdq": 999})


def test_status_loading_and_snapshot_origin(
    bank_service: BankService, make_matcher: MakeMatcher, tmp_path: Path
) -> None:
    _add(bank_service, "known", BRIDGE, flip(BRIDGE, 40))
    _add(bank_service, "known", "1" * 64, signal_type="sha256")
    cold = make_matcher(load=False, index_dir=tmp_path / "index")
    assert cold.status().ready is False
    with pytest.raises(IndexNotReadyError):
        cold.refresh()
    assert len(cold.match_value("pdq", BRIDGE)) == 1  # loaded on first use
    status = cold.status()
    assert status.ready
    assert status.origin == "rebuilt"
    assert status.change_seq == bank_service.change_sequence()
    assert status.entries == {"md5": 0, "pdq": 2, "sha1": 0, "sha256": 1, "url": 0, "vpdq": 0}
    assert status.last_error is None
    assert status.seconds_since_refresh is not None
    warm = make_matcher(index_dir=tmp_path / "index")
    assert warm.status().origin == "snapshot"
