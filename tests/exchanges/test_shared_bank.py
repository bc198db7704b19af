"""Several exchanges filling one bank: an entry leaves the bank only when no record of any
exchange feeding it still holds the signal; otherwise it is handed over (source and category)
to an exchange that still holds it. Hand-made entries are never touched."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.exchanges import ExchangeFetcher, ExchangeService

# md5 digests of benign text, computed here by hashlib (the reference implementation).
MD5S = [hashlib.md5(f"benign shared-bank test {i}".encode()).hexdigest() for i in range(50)]
ONLY_LX = hashlib.md5(b"benign only lx").hexdigest()


def _entries(banks: BankService, bank: str) -> dict[str, tuple[str, str]]:
    return {e.value: (e.source, str(e.category)) for e in banks.iter_entries(bank)}


def _list(path: Path, values: list[str]) -> None:
    path.write_text("\n".join(values) + "\n")


def _two_lists(
    tmp_path: Path, exchanges: ExchangeService, banks: BankService, fetcher: ExchangeFetcher
) -> tuple[Path, Path]:
    banks.create_bank("ex-list")
    lx, lp = tmp_path / "lx.txt", tmp_path / "lp.txt"
    _list(lx, MD5S)
    _list(lp, MD5S)
    for name, path in (("lx", lx), ("lp", lp)):
        exchanges.add_exchange(
            name, "list", "ex-list",
            settings={"path": str(path), "signal_type": "md5", "category": f"local:{name}"},
        )  # fmt: skip
    assert fetcher.fetch("lx").added == 50
    assert fetcher.fetch("lp").added == 0  # duplicates of lx's entries
    return lx, lp


def test_a_drop_by_one_exchange_keeps_what_another_holds(
    tmp_path: Path,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
) -> None:
    lx, lp = _two_lists(tmp_path, exchange_service, bank_service, fetcher)
    _list(lx, MD5S[:10])
    report = fetcher.fetch("lx")
    assert (report.removed, report.swept) == (0, 40)
    held = _entries(bank_service, "ex-list")
    assert len(held) == 50
    # lx keeps its 10; the 40 it dropped now belong to lp, with lp's category
    assert {v for v, s in held.items() if s == ("exchange:lx", "local:lx")} == set(MD5S[:10])
    assert {v for v, s in held.items() if s == ("exchange:lp", "local:lp")} == set(MD5S[10:])

    # lp now drops everything but 5 values that lx no longer lists and 5 that it does
    _list(lp, MD5S[5:15])
    report = fetcher.fetch("lp")
    assert report.removed == 35  # MD5S[15:]: nobody holds them
    assert set(_entries(bank_service, "ex-list")) == set(MD5S[:15])
    # and lx letting go of all it holds leaves exactly what lp still lists
    _list(lx, [MD5S[49]])
    fetcher.fetch("lx")
    held = _entries(bank_service, "ex-list")
    assert set(held) == set(MD5S[5:15]) | {MD5S[49]}
    assert {held[v] for v in MD5S[5:15]} == {("exchange:lp", "local:lp")}


def test_hand_made_entries_are_never_deleted_or_handed_over(
    tmp_path: Path,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
) -> None:
    bank_service.create_bank("ex-list")
    bank_service.add_entry(
        "ex-list", NewEntry("md5", MD5S[0], None, Category("local", "hand"), "curator")
    )
    lx = tmp_path / "lx.txt"
    _list(lx, MD5S[:3])
    exchange_service.add_exchange(
        "lx", "list", "ex-list", settings={"path": str(lx), "signal_type": "md5"}
    )
    assert fetcher.fetch("lx").added == 2
    _list(lx, [MD5S[2]])
    assert fetcher.fetch("lx").removed == 1  # MD5S[1]; the curator's MD5S[0] stays
    assert _entries(bank_service, "ex-list") == {
        MD5S[0]: ("curator", "local:hand"),
        MD5S[2]: ("exchange:lx", "None"),
    }


def test_removing_an_exchange_hands_its_shared_entries_over(
    tmp_path: Path,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
) -> None:
    lx, lp = _two_lists(tmp_path, exchange_service, bank_service, fetcher)
    _list(lx, [*MD5S, ONLY_LX])
    fetcher.fetch("lx")
    exchange_service.remove_exchange("lx")
    held = _entries(bank_service, "ex-list")
    assert len(held) == 51  # the bank keeps every entry
    assert {held[v] for v in MD5S} == {("exchange:lp", "local:lp")}
    _list(lp, MD5S[:1])
    assert fetcher.fetch("lp").removed == 49  # lp now owns them, so its drops delete them
    assert set(_entries(bank_service, "ex-list")) == {
        MD5S[0],
        hashlib.md5(b"benign only lx").hexdigest(),
    }


@pytest.mark.parametrize(
    "moment", ["between the add and the save", "between the plan and the delete"]
)
def test_a_concurrent_fetch_of_another_exchange_loses_nothing(
    tmp_path: Path,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    """lx drops MD5S[0] in the very moment lp first takes it up (the other fetch is run at the
    chosen point of this one): the entry stays, now lp's."""
    bank_service.create_bank("ex-list")
    lx, lp = tmp_path / "lx.txt", tmp_path / "lp.txt"
    _list(lx, MD5S[:2])
    _list(lp, [MD5S[1]])
    for name, path in (("lx", lx), ("lp", lp)):
        exchange_service.add_exchange(
            name, "list", "ex-list", settings={"path": str(path), "signal_type": "md5"}
        )
    fetcher.fetch("lx")
    fetcher.fetch("lp")
    _list(lx, [MD5S[1]])
    _list(lp, MD5S[:2])
    first, other = ("lp", "lx") if moment.startswith("between the add") else ("lx", "lp")
    hooked = "add_entries" if first == "lp" else "delete_entries"
    original = getattr(bank_service, hooked)
    done: list[str] = []

    def run_other_then(*args: Any, **kwargs: Any) -> Any:
        if first == "lx":  # lx planned the delete: lp takes the signal up now
            fetcher.fetch(other) if not done else None
            done.append(other)
            return original(*args, **kwargs)
        result = original(*args, **kwargs)  # lp's add was a duplicate: lx deletes it now
        if not done:
            done.append(other)
            fetcher.fetch(other)
        return result

    monkeypatch.setattr(bank_service, hooked, run_other_then)
    fetcher.fetch(first)
    assert done == [other]
    assert _entries(bank_service, "ex-list") == {
        MD5S[0]: ("exchange:lp", "None"),
        MD5S[1]: ("exchange:lx", "None"),
    }
