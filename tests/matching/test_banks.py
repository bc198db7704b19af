"""BankView: the scan's threshold order, bank restriction, and the strongest action."""

from __future__ import annotations

import pytest

from safehold.errors import ConflictError, NotFoundError
from safehold.matching.banks import BankInfo, BankView, strongest_action

VIEW = BankView.of(
    [
        BankInfo(1, "Ncmec", True, {"pdq": 20}, "block", "ncmec-industry:A1"),
        BankInfo(2, "local", True, {}, "review"),
        BankInfo(3, "paused", False, {"pdq": 5}, "block"),
    ]
)


def test_strongest_action() -> None:
    assert strongest_action([]) == "none"
    assert strongest_action(["review", "block", "review"]) == "block"
    assert strongest_action(["review"]) == "review"
    assert strongest_action(["quarantine"]) == "review"  # unknown: never weaker than a match


def test_threshold_order() -> None:
    ncmec, local = VIEW.by_id[1], VIEW.by_id[2]
    assert VIEW.threshold(ncmec, "pdq", {}, {"pdq": 31}) == 20  # bank beats settings
    assert VIEW.threshold(ncmec, "pdq", {"pdq": 10}, {"pdq": 31}) == 10  # override beats bank
    assert VIEW.threshold(local, "pdq", {}, {"pdq": 25}) == 25  # settings default
    assert VIEW.threshold(local, "pdq", {}, {}) == 31  # the signal type's default
    assert VIEW.threshold(local, "md5", {}, {}) == 0
    assert VIEW.groups("pdq", VIEW.enabled_ids, {}, {"pdq": 31}) == {
        20: frozenset({1}),
        31: frozenset({2}),
    }


def test_restriction() -> None:
    assert VIEW.allowed() == frozenset({1, 2})
    assert VIEW.allowed(["NCMEC"]) == frozenset({1})  # names ignore case
    with pytest.raises(NotFoundError, match="'other'"):
        VIEW.allowed(["other"])
    with pytest.raises(ConflictError, match="disabled"):
        VIEW.allowed(["paused"])
    with pytest.raises(NotFoundError):
        VIEW.allowed(["ncmeç"])  # non-ASCII names match no bank


def test_action_for_banks() -> None:
    assert VIEW.action_for(["local"]) == "review"
    assert VIEW.action_for(["local", "ncmec"]) == "block"
    assert VIEW.action_for(["deleted meanwhile"]) == "review"
