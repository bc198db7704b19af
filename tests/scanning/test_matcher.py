"""Matcher: thresholds (run > bank > default), bank restriction, quality gate, variants."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from safehold.banks.models import BankEntry, Category, NewEntry
from safehold.banks.service import BankService
from safehold.scanning.matcher import Matcher
from safehold.signals.base import Signal

# The bridge's reference PDQ (Meta's Java test value, quoted in shared/data/README.md).
BASE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def flip(value: str, bits: int, start: int = 0) -> str:
    """``value`` with ``bits`` bits flipped (bits ``start .. start + bits - 1``)."""
    number = int(value, 16)
    for i in range(start, start + bits):
        number ^= 1 << i
    return f"{number:064x}"


def _bank(
    service: BankService, name: str, values: list[str], thresholds: dict[str, int] | None = None
) -> list[int]:
    service.create_bank(name, source=f"{name}-source", thresholds=thresholds)
    service.add_entries(
        name,
        [
            NewEntry("pdq", v, category=Category("local", name), source=f"{name}-src")
            for v in values
        ],
    )
    return [e.id for e in service.iter_entries(name)]


def _matcher(service: BankService, **kw: object) -> Matcher:
    kw.setdefault("defaults", {"pdq": 31})
    return Matcher(service, ["md5", "pdq"], **kw)  # type: ignore[arg-type]


QUERY = Signal("pdq", BASE, 100)


def test_bank_threshold_beats_default_and_run_override_beats_both(banks: BankService) -> None:
    (strict,) = _bank(banks, "strict", [flip(BASE, 20)], thresholds={"pdq": 10})
    (loose,) = _bank(banks, "loose", [flip(BASE, 20, start=100)])
    assert [(m.bank, m.entry_id, m.distance) for m in _matcher(banks).match({"pdq": QUERY})] == [
        ("loose", loose, 20)
    ]
    both = _matcher(banks, overrides={"pdq": 25}).match({"pdq": QUERY})
    assert [(m.bank, m.entry_id) for m in both] == [("loose", loose), ("strict", strict)]
    assert _matcher(banks, overrides={"pdq": 5}).match({"pdq": QUERY}) == []


def test_default_threshold_is_inclusive(banks: BankService) -> None:
    _bank(banks, "b", [flip(BASE, 31), flip(BASE, 32, start=64)])
    assert [m.distance for m in _matcher(banks).match({"pdq": QUERY})] == [31]


def test_match_fields_and_no_bank_hash(banks: BankService) -> None:
    (entry,) = _bank(banks, "b", [flip(BASE, 3)])
    (match,) = _matcher(banks).match({"pdq": QUERY})
    assert match.to_dict() == {
        "bank": "b",
        "entry_id": entry,
        "signal_type": "pdq",
        "distance": 3,
        "category": "local:b",
        "source": "b-src",
        "variant": None,
    }
    assert flip(BASE, 3) not in repr(match)


def test_bank_restriction_and_disabled_entries(banks: BankService) -> None:
    (a,) = _bank(banks, "a", [flip(BASE, 1)])
    (b,) = _bank(banks, "b", [flip(BASE, 2)])
    only_b = _matcher(banks, bank_names=["b"]).match({"pdq": QUERY})
    assert [m.entry_id for m in only_b] == [b]
    banks.set_entry_enabled(b, False)
    assert [m.entry_id for m in _matcher(banks).match({"pdq": QUERY})] == [a]
    banks.update_bank("a", enabled=False)
    assert _matcher(banks).match({"pdq": QUERY}) == []
    assert _matcher(banks).entry_count() == 0


def test_low_quality_pdq_never_matches(banks: BankService) -> None:
    _bank(banks, "b", [BASE])
    matcher = _matcher(banks, pdq_min_quality=50)
    assert matcher.match({"pdq": Signal("pdq", BASE, 49)}) == []
    assert [m.distance for m in matcher.match({"pdq": Signal("pdq", BASE, 50)})] == [0]


def test_variant_that_matched_is_named(banks: BankService) -> None:
    rotated = flip(BASE, 128)  # far from the original: only the variant can match
    _bank(banks, "b", [flip(rotated, 2)])
    query = Signal("pdq", BASE, 100, (flip(BASE, 64), rotated), ("rotate180", "rotate90"))
    (match,) = _matcher(banks).match({"pdq": query})
    assert (match.distance, match.variant) == (2, "rotate90")
    plain = Signal("pdq", flip(rotated, 1), 100, (BASE,), ("rotate90",))
    (match,) = _matcher(banks).match({"pdq": plain})
    assert (match.distance, match.variant) == (1, "original")


def test_exact_types_match_by_value(banks: BankService) -> None:
    banks.create_bank("md5s")
    banks.add_entries("md5s", [NewEntry("md5", "d41d8cd98f00b204e9800998ecf8427e")])
    matcher = _matcher(banks)
    (m,) = matcher.match({"md5": Signal("md5", "d41d8cd98f00b204e9800998ecf8427e")})
    assert (m.bank, m.distance, m.category, m.variant) == ("md5s", 0, None, None)
    assert matcher.match({"md5": Signal("md5", "0" * 32)}) == []


@pytest.mark.usefixtures("db_settings")
def test_thresholds_on_every_database(bank_service: BankService) -> None:
    """The same precedence on SQLite and PostgreSQL (bank thresholds are stored as JSON)."""
    _bank(bank_service, "strict", [flip(BASE, 20)], thresholds={"pdq": 10})
    (loose,) = _bank(bank_service, "loose", [flip(BASE, 20, start=100)])
    assert [m.entry_id for m in _matcher(bank_service).match({"pdq": QUERY})] == [loose]


class _NoPdqLoading(BankService):
    """A service that refuses to load every PDQ entry and counts the per-hit lookups."""

    lookups = 0

    def matchable_entries(self, signal_type: str) -> list[BankEntry]:
        if signal_type == "pdq":
            raise AssertionError("the snapshot path loaded every PDQ entry")
        return super().matchable_entries(signal_type)

    def get_entries(self, ids: Sequence[int]) -> dict[int, BankEntry]:
        self.lookups += 1
        return super().get_entries(ids)


@pytest.mark.usefixtures("db_settings")
def test_snapshot_path_counts_and_looks_entries_up_per_hit(
    bank_service: BankService, tmp_path: Path
) -> None:
    """With an index_dir, PDQ entries are counted and looked up per hit, never all loaded."""
    near, far = _bank(bank_service, "strict", [flip(BASE, 2), flip(BASE, 20)], {"pdq": 10})
    (loose,) = _bank(bank_service, "loose", [flip(BASE, 20, start=100)])
    _bank(bank_service, "off", [BASE])
    bank_service.update_bank("off", enabled=False)
    bank_service.create_bank("md5s")
    bank_service.add_entries("md5s", [NewEntry("md5", "d41d8cd98f00b204e9800998ecf8427e")])
    service = _NoPdqLoading(bank_service.engine)
    index_dir = tmp_path / "index"

    def run(**kw: object) -> tuple[Matcher, list[tuple[str, int, int, str | None, str]]]:
        matcher = _matcher(service, index_dir=index_dir, **kw)
        found = matcher.match({"pdq": QUERY})
        return matcher, [(m.bank, m.entry_id, m.distance, m.category, m.source) for m in found]

    matcher, found = run()
    assert matcher.index_origins == {"pdq": "rebuilt"}
    # "far" is beyond strict's own threshold; the disabled bank's exact copy is dropped
    assert found == [
        ("strict", near, 2, "local:strict", "strict-src"),
        ("loose", loose, 20, "local:loose", "loose-src"),
    ]
    assert matcher.entry_count() == 4  # 3 PDQ in enabled banks + 1 MD5
    lookups = service.lookups
    assert len(matcher.match({"pdq": QUERY})) == 2
    assert service.lookups == lookups  # the run's cache answers a second time

    bank_service.set_entry_enabled(near, False)
    matcher, found = run()
    assert (matcher.index_origins, matcher.entry_count()) == ({"pdq": "snapshot"}, 3)
    assert [(bank, entry) for bank, entry, *_ in found] == [("loose", loose)]
    matcher, found = run(bank_names=["strict"], overrides={"pdq": 31})
    assert (found, matcher.entry_count()) == (
        [("strict", far, 20, "local:strict", "strict-src")],
        1,
    )
    matcher, found = run(bank_names=["md5s"])
    assert (found, matcher.entry_count()) == ([], 1)
    assert "pdq" not in matcher.index_origins  # no PDQ entry in the run: no index opened
