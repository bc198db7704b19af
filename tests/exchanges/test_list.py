"""The ``list`` source: a hash list at a path or URL, read whole on each fetch; records it no
longer lists are removed, an unchanged list is not re-read, and an empty one never empties the
bank."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.exchanges.conftest import Recorded

from safehold.banks.service import BankService
from safehold.errors import FetchError, InvalidInputError
from safehold.exchanges import ExchangeFetcher, ExchangeService


def _values(bank_service: BankService, bank: str) -> set[tuple[str, str]]:
    return {(e.signal_type, e.value) for e in bank_service.iter_entries(bank)}


def test_file_list_snapshot_updates_and_empty_guard(
    tmp_path: Path,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    benign_hashes: list[dict[str, str]],
) -> None:
    md5s = [row["md5"] for row in benign_hashes[:4]]
    path = tmp_path / "list.txt"
    path.write_text("# benign test list\n" + "\n".join(md5s[:3]) + "\nnot-a-hash\n")
    bank_service.create_bank("plain")
    exchange_service.add_exchange(
        "plain-list",
        "list",
        "plain",
        settings={"path": str(path), "signal_type": "md5", "category": "local:test"},
    )
    report = fetcher.fetch("plain-list")
    assert _values(bank_service, "plain") == {("md5", v) for v in md5s[:3]}
    assert (report.added, report.skipped, report.caught_up) == (3, 1, True)
    assert {str(e.category) for e in bank_service.iter_entries("plain")} == {"local:test"}

    again = fetcher.fetch("plain-list")  # unchanged bytes: nothing read or swept
    assert (again.records, again.swept, again.removed) == (0, 0, 0)

    path.write_text("\n".join([md5s[0], md5s[3]]) + "\n")
    changed = fetcher.fetch("plain-list")
    assert _values(bank_service, "plain") == {("md5", md5s[0]), ("md5", md5s[3])}
    assert (changed.added, changed.removed, changed.swept) == (1, 2, 2)

    path.write_text("# nothing today\n")
    with pytest.raises(FetchError, match="delivered an empty list; the bank keeps its 2"):
        fetcher.fetch("plain-list")
    assert _values(bank_service, "plain") == {("md5", md5s[0]), ("md5", md5s[3])}
    status = exchange_service.statuses("plain-list")[0]
    assert status.failures == 1
    assert status.last_success_at is not None


def test_url_list_in_csv(
    recorded: Recorded,
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    benign_hashes: list[dict[str, str]],
) -> None:
    rows = [f"pdq,{r['pdq']},collab,vics:1," for r in benign_hashes[:2]]
    body = ("signal_type,signal_str,collab,category,tags\n" + "\n".join(rows) + "\n").encode()
    recorded.script("/lists/pdq.csv", (200, body))
    bank_service.create_bank("csv")
    exchange_service.add_exchange(
        "csv-list", "list", "csv", settings={"url": recorded.url + "/lists/pdq.csv"}
    )
    fetcher.fetch("csv-list")
    entries = list(bank_service.iter_entries("csv"))
    assert {(e.value, str(e.category)) for e in entries} == {
        (r["pdq"], "vics:1") for r in benign_hashes[:2]
    }
    assert {e.source for e in entries} == {"exchange:csv-list"}


def test_list_needs_one_location(
    exchange_service: ExchangeService, bank_service: BankService
) -> None:
    bank_service.create_bank("x")
    with pytest.raises(InvalidInputError, match="exactly one of the settings url, path"):
        exchange_service.add_exchange("bad", "list", "x", settings={})
    with pytest.raises(InvalidInputError, match="take no setting 'colour'"):
        exchange_service.add_exchange("bad", "list", "x", settings={"path": "/x", "colour": "1"})
