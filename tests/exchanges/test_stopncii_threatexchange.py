"""StopNCII and ThreatExchange sources against recorded JSON pages on loopback: paging,
withdrawals and tombstones, skipped records, a failure between pages and the resume, and the
checkpoint never holding a credential."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from tests.exchanges.conftest import Recorded

from safehold.banks.service import BankService
from safehold.errors import FetchError, InvalidInputError
from safehold.exchanges import ExchangeFetcher, ExchangeService
from safehold.exchanges.base import checkpoint_int
from safehold.storage.tables import exchange_states

SUBSCRIPTION, FUNCTION_KEY = "sub-key-123", "fn-key-456"
TOKEN = "1234567890|app-secret-token"


def _stopncii_page(records: list[dict[str, object]], token: str | None, more: bool) -> bytes:
    return json.dumps(
        {
            "count": len(records),
            "nextPageToken": token,
            "nextSetTimestamp": 1700000500,
            "hasMoreRecords": more,
            "hashRecords": records,
        }
    ).encode()


def _record(kind: str, value: str, status: str) -> dict[str, object]:
    return {
        "lastModtimestamp": 1700000100,
        "signalType": kind,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [],
    }


def _add_stopncii(exchanges: ExchangeService, banks: BankService, base_url: str) -> None:
    banks.create_bank("ncii")
    exchanges.add_exchange(
        "stopncii",
        "stopncii",
        "ncii",
        settings={"base_url": base_url},
        credentials={"subscription_key": SUBSCRIPTION, "fetch_function_key": FUNCTION_KEY},
    )


def _checkpoint(service: ExchangeService) -> str:
    with service.engine.connect() as c:
        return str(c.execute(select(exchange_states.c.checkpoint)).scalar_one())


def test_stopncii_paging_withdrawal_failure_and_resume(
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    benign_hashes: list[dict[str, str]],
) -> None:
    a, b = benign_hashes[3], benign_hashes[4]
    _add_stopncii(exchange_service, bank_service, recorded.url + "/v1")
    recorded.key = lambda path, query: query.get("nextPageToken", ["first"])[0]
    recorded.script(
        "first",
        (
            200,
            _stopncii_page(
                [
                    _record("ImagePDQ", a["pdq"], "Active"),
                    _record("VideoMD5", b["md5"], "Received"),
                    _record("VideoTMK", "tmk-data", "Active"),  # not a Safehold signal type
                    {"signalType": "ImagePDQ"},  # malformed: no value
                ],
                "page-2",
                True,
            ),
        ),
    )
    recorded.script(
        "page-2",
        (500, b"oops"),
        (200, _stopncii_page([_record("ImagePDQ", a["pdq"], "Withdrawn")], None, False)),
    )
    with pytest.raises(FetchError, match="HTTP 500"):
        fetcher.fetch("stopncii")
    values = {(e.signal_type, e.value) for e in bank_service.iter_entries("ncii")}
    assert values == {("pdq", a["pdq"]), ("md5", b["md5"])}
    assert json.loads(_checkpoint(exchange_service)) == {"start": 10, "page": "page-2"}

    report = fetcher.fetch("stopncii")
    assert [r.query.get("nextPageToken", ["first"])[0] for r in recorded.requests] == [
        "first",
        "page-2",
        "page-2",
    ]
    assert {r.headers["ocp-apim-subscription-key"] for r in recorded.requests} == {SUBSCRIPTION}
    assert {r.headers["x-functions-key"] for r in recorded.requests} == {FUNCTION_KEY}
    assert [(e.signal_type, e.value) for e in bank_service.iter_entries("ncii")] == [
        ("md5", b["md5"])
    ]
    assert (report.removed, report.caught_up) == (1, True)
    assert json.loads(_checkpoint(exchange_service)) == {"start": 1700000500}
    status = exchange_service.statuses("stopncii")[0]
    assert status.skipped_total == 2
    assert status.as_of is not None
    assert status.as_of.timestamp() == 1700000500


def _te_page(data: list[dict[str, object]], after: str | None) -> bytes:
    paging: dict[str, object] = {"cursors": {"before": "b0", "after": after or "end"}}
    if after:
        paging["next"] = f"https://graph.facebook.com/v26.0/x?access_token={TOKEN}&after={after}"
    return json.dumps({"data": data, "paging": paging}).encode()


def _update(
    item_id: str, kind: str, indicator: str, *, delete: bool = False, status: str = "MALICIOUS"
) -> dict[str, object]:
    return {
        "id": item_id,
        "indicator": indicator,
        "type": kind,
        "last_updated": 1700000200,
        "should_delete": delete,
        "status": status,
        "tags": ["csam"],
    }


def test_threatexchange_paging_tombstones_failure_and_resume(
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    benign_hashes: list[dict[str, str]],
) -> None:
    a, b, c = benign_hashes[5], benign_hashes[6], benign_hashes[7]
    bank_service.create_bank("te")
    exchange_service.add_exchange(
        "te",
        "threatexchange",
        "te",
        settings={"base_url": recorded.url, "privacy_group": "303636684709969"},
        credentials={"access_token": TOKEN},
    )
    recorded.key = lambda path, query: query.get("after", ["first"])[0]
    recorded.script(
        "first",
        (
            200,
            _te_page(
                [
                    _update("101", "HASH_PDQ", a["pdq"]),
                    _update("102", "HASH_MD5", b["md5"]),
                    _update("103", "HASH_TMK", "tmk"),  # skipped
                ],
                "c1",
            ),
        ),
    )
    recorded.script(
        "c1",
        (502, b"bad gateway"),
        (
            200,
            _te_page(
                [
                    _update("101", "HASH_PDQ", a["pdq"], delete=True),
                    _update("102", "HASH_MD5", b["md5"], status="NON_MALICIOUS"),
                    _update("104", "HASH_SHA256", c["sha256"]),
                ],
                None,
            ),
        ),
    )
    with pytest.raises(FetchError, match="HTTP 502"):
        fetcher.fetch("te")
    assert TOKEN not in _checkpoint(exchange_service)
    assert json.loads(_checkpoint(exchange_service))["after"] == "c1"
    fetcher.fetch("te")
    paths = {r.path for r in recorded.requests}
    assert paths == {"/303636684709969/threat_updates/"}
    assert {r.query["access_token"][0] for r in recorded.requests} == {TOKEN}
    first, resumed = recorded.requests[0].query, recorded.requests[2].query
    assert (resumed["start_time"], resumed["stop_time"]) == (
        first["start_time"],
        first["stop_time"],
    )
    assert [(e.signal_type, e.value) for e in bank_service.iter_entries("te")] == [
        ("sha256", c["sha256"])
    ]
    checkpoint = json.loads(_checkpoint(exchange_service))
    assert checkpoint == {"start": int(first["stop_time"][0])}
    status = exchange_service.statuses("te")[0]
    assert (status.added_total, status.removed_total, status.skipped_total) == (3, 2, 1)


def test_stopncii_expired_page_token_restarts_the_window(
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    benign_hashes: list[dict[str, str]],
) -> None:
    a = benign_hashes[3]
    _add_stopncii(exchange_service, bank_service, recorded.url)
    recorded.key = lambda path, query: query.get("nextPageToken", ["first"])[0]
    recorded.script("first", (200, _stopncii_page([], "stale", True)))
    recorded.script("stale", (500, b"down"), (400, b"token expired"))
    with pytest.raises(FetchError, match="HTTP 500"):
        fetcher.fetch("stopncii")
    recorded.script(
        "first", (200, _stopncii_page([_record("ImagePDQ", a["pdq"], "Active")], None, False))
    )
    fetcher.fetch("stopncii")  # the stored token is refused: the window starts again
    tokens = [r.query.get("nextPageToken", ["first"])[0] for r in recorded.requests]
    assert tokens == ["first", "stale", "stale", "first"]
    assert {r.query["startTimestamp"][0] for r in recorded.requests} == {"10"}
    assert [e.value for e in bank_service.iter_entries("ncii")] == [a["pdq"]]


@pytest.mark.parametrize("stamp", [2**63, 10**20, -5, 253_402_300_800, "1700000500", True])
def test_a_source_time_out_of_range_fails_cleanly_and_keeps_the_checkpoint(
    exchange_service: ExchangeService,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    stamp: object,
) -> None:
    _add_stopncii(exchange_service, bank_service, recorded.url)
    page = json.loads(_stopncii_page([], None, False))
    page["nextSetTimestamp"] = stamp  # a time no database column or datetime holds
    recorded.script("/FetchHashes", (200, json.dumps(page).encode()))
    with pytest.raises(FetchError, match="nextSetTimestamp is not a time from 1970 to 9999"):
        fetcher.fetch("stopncii")
    status = exchange_service.statuses("stopncii")[0]
    assert (status.failures, status.as_of) == (1, None)
    with exchange_service.engine.connect() as c:
        assert c.execute(select(exchange_states.c.checkpoint)).scalar_one() is None


@pytest.mark.parametrize("start", [2**63, -1, 10**30])
def test_a_checkpoint_time_out_of_range_is_refused(start: int) -> None:
    assert checkpoint_int({"start": 253_402_300_799}, "start", "stopncii") == 253_402_300_799
    with pytest.raises(InvalidInputError, match="not one this source made"):
        checkpoint_int({"start": start}, "start", "stopncii")
