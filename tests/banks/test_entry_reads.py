"""Entry reads added for the service (paging) on real SQLite and real PostgreSQL."""

from __future__ import annotations

import pytest

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.errors import InvalidInputError, NotFoundError


def test_list_entries_pages_by_id(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    bank_service.create_bank("other")
    bank_service.add_entries("other", [NewEntry("md5", "f" * 32)])
    bank_service.add_entries(
        "b",
        [NewEntry("md5", f"{i:032x}") for i in range(5)] + [NewEntry("sha256", "ab" * 32)],
    )
    every = [e.id for e in bank_service.iter_entries("b", include_disabled=True)]
    bank_service.set_entry_enabled(every[0], False)
    pages: list[list[int]] = []
    after = 0
    while page := bank_service.list_entries("B", after_id=after, limit=4):
        pages.append([e.id for e in page])
        after = page[-1].id
    assert pages == [every[:4], every[4:]]  # disabled entries included, other banks not
    md5 = bank_service.list_entries("b", signal_type="md5", after_id=every[2])
    assert [e.id for e in md5] == every[3:5]
    assert md5[0].value == f"{3:032x}"  # curators see the hash


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"limit": 0}, "limit must be between 1 and 10,000"),
        ({"limit": 10_001}, "limit must be between 1 and 10,000"),
        ({"after_id": -1}, "after_id"),
        ({"signal_type": "nope"}, "unknown signal type"),
    ],
)
def test_list_entries_checks_its_arguments(
    bank_service: BankService, kwargs: dict[str, object], needle: str
) -> None:
    bank_service.create_bank("b")
    with pytest.raises(InvalidInputError, match=needle):
        bank_service.list_entries("b", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        bank_service.list_entries("missing")
