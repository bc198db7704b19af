"""Matcher: thresholds (run > bank > default), bank restriction, quality gate, variants."""

from __future__ import annotations

import pytest

from safehold.banks.models import Category, NewEntry
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
