"""NCMEC hash sharing source against recorded XML pages on loopback: paging, deletions,
classification updates, a failure in the middle of a three-page window and the resume from the
committed checkpoint. The parser is held to python-threatexchange's NCMEC parser."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.exchanges.conftest import Recorded
from threatexchange.exchanges.clients.ncmec.hash_api import GetEntriesResponse, _XMLWrapper

from safehold.banks.models import Bank, Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, FetchError
from safehold.exchanges import ExchangeFetcher, ExchangeService
from safehold.exchanges.apply import source_label
from safehold.exchanges.ncmec import ncmec_time, parse_entries
from safehold.storage.tables import exchange_states

NS = "https://hashsharing.ncmec.org/hashsharing/v2"
WINDOW = "from=2017-10-20T00%3A00%3A00.000Z&amp;to=2017-10-30T00%3A00%3A00.000Z"
USER, PASSWORD = "esp-user", "correct horse battery staple"


def _image(entry_id: str, md5: str, pdq: str, classification: str) -> str:
    return f"""
        <image>
            <member id="42">Example Member</member>
            <timestamp>2017-10-24T15:00:00Z</timestamp>
            <id>{entry_id}</id>
            <classification>{classification}</classification>
            <fingerprints>
                <md5>{md5}</md5>
                <pdna>a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1...</pdna>
                <pdq>{pdq}</pdq>
            </fingerprints>
            <feedback />
        </image>"""


def _page(images: str, videos: str, start: int | None) -> bytes:
    paging = (
        f"<paging><next>/v2/entries?{WINDOW}&amp;start={start}&amp;size=1000&amp;max=5000</next>"
        "</paging>"
        if start
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="{NS}">
    <images count="2" maxTimestamp="2017-10-24T15:10:00Z">{images}</images>
    <videos count="1" maxTimestamp="2017-10-24T15:20:00Z">{videos}</videos>
    {paging}
</queryResult>""".encode()


def _tombstone(tag: str, entry_id: str) -> str:
    return f"""
        <{tag}>
            <member id="43">Example Member2</member>
            <id>{entry_id}</id>
            <timestamp>2017-10-24T15:10:00Z</timestamp>
        </{tag}>"""


@pytest.fixture
def pages(benign_hashes: list[dict[str, str]]) -> dict[str, bytes]:
    """Three pages of one window: adds, a tombstone of an unknown entry, then a deletion and a
    reclassification on the last page."""
    a, b, c = benign_hashes[0], benign_hashes[1], benign_hashes[2]
    video = f"""
        <video>
            <member id="42">Example Member</member>
            <timestamp>2017-10-24T15:00:00Z</timestamp>
            <id>video1</id>
            <fingerprints><md5>{b["md5"]}</md5><tmk-pdqf rel="self" href="/v2/x"/></fingerprints>
        </video>"""
    gone = _tombstone("deletedImage", "image4")
    deleted_video = _tombstone("deletedVideo", "video1")
    return {
        "first": _page(_image("image1", a["md5"], a["pdq"], "A1") + gone, video, 2001),
        "2001": _page(_image("image2", c["md5"], c["pdq"], "A2"), "", 3001),
        "3001": _page(_image("image1", a["md5"], a["pdq"], "B1"), deleted_video, None),
    }


def _by_start(path: str, query: dict[str, list[str]]) -> str:
    return query.get("start", ["first"])[0]


@pytest.fixture
def ncmec_bank(bank_service: BankService) -> Bank:
    return bank_service.create_bank("ncmec-industry")


@pytest.fixture
def ncmec(exchange_service: ExchangeService, recorded: Recorded, ncmec_bank: Bank) -> str:
    recorded.key = _by_start
    exchange_service.add_exchange(
        "ncmec",
        "ncmec",
        ncmec_bank.name,
        settings={"base_url": recorded.url},
        credentials={"username": USER, "password": PASSWORD},
    )
    return "ncmec"


def _values(bank_service: BankService, bank: str) -> dict[tuple[str, str], str | None]:
    return {
        (e.signal_type, e.value): (str(e.category) if e.category else None)
        for e in bank_service.iter_entries(bank)
    }


def test_parser_agrees_with_python_threatexchange(pages: dict[str, bytes]) -> None:
    for body in pages.values():
        ours, skipped, next_path = parse_entries(body, "ncmec-industry")
        from xml.etree import ElementTree as ET

        root = ET.fromstring(body)
        for el in root.iter():
            el.tag = el.tag.rpartition("}")[2]
        theirs = GetEntriesResponse.from_xml(_XMLWrapper(root), 0)
        assert skipped == 0
        assert [u.source_id for u in ours] == [u.id for u in theirs.updates]
        assert [u.deleted for u in ours] == [u.deleted for u in theirs.updates]
        for mine, ref in zip(ours, theirs.updates, strict=True):
            expected = {k: v for k, v in ref.fingerprints.items() if k in ("md5", "pdq", "sha1")}
            assert {s.signal_type: s.value for s in mine.signals} == expected
            assert (mine.category.code if mine.category else None) == ref.classification
        assert next_path == theirs.next


def test_full_window_applies_adds_deletions_and_reclassification(
    ncmec: str,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    pages: dict[str, bytes],
    benign_hashes: list[dict[str, str]],
) -> None:
    for key, body in pages.items():
        recorded.script(key, (200, body))
    report = fetcher.fetch(ncmec)
    a, c = benign_hashes[0], benign_hashes[2]
    assert _values(bank_service, "ncmec-industry") == {
        ("md5", a["md5"]): "ncmec-industry:B1",
        ("pdq", a["pdq"]): "ncmec-industry:B1",
        ("md5", c["md5"]): "ncmec-industry:A2",
        ("pdq", c["pdq"]): "ncmec-industry:A2",
    }
    assert (report.batches, report.records, report.added, report.removed) == (3, 6, 5, 1)
    assert report.caught_up
    # Basic authentication with the decrypted credentials on every page.
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert {r.headers["authorization"] for r in recorded.requests} == {expected}
    assert [r.query.get("start", ["first"])[0] for r in recorded.requests] == [
        "first",
        "2001",
        "3001",
    ]


def test_failure_mid_window_resumes_from_the_committed_page(
    ncmec: str,
    fetcher: ExchangeFetcher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    recorded: Recorded,
    pages: dict[str, bytes],
    benign_hashes: list[dict[str, str]],
) -> None:
    recorded.script("first", (200, pages["first"]))
    recorded.script("2001", (503, b"busy"), (200, pages["2001"]))
    recorded.script("3001", (200, pages["3001"]))
    with pytest.raises(FetchError, match="HTTP 503"):
        fetcher.fetch(ncmec)
    status = exchange_service.statuses(ncmec)[0]
    assert status.failures == 1
    assert status.last_error == "exchange 'ncmec': HTTP 503"
    assert status.last_success_at is None
    a, b = benign_hashes[0], benign_hashes[1]
    first_page = _values(bank_service, "ncmec-industry")
    assert set(first_page) == {("md5", a["md5"]), ("pdq", a["pdq"]), ("md5", b["md5"])}
    ids_before = {e.value: e.id for e in bank_service.iter_entries("ncmec-industry")}

    fetcher.fetch(ncmec)
    resumed = [r.query.get("start", ["first"])[0] for r in recorded.requests]
    assert resumed == ["first", "2001", "2001", "3001"]  # page 1 is not fetched again
    # The resumed window is the same window: the next path is followed as NCMEC gave it.
    assert recorded.requests[2].query["from"] == ["2017-10-20T00:00:00.000Z"]
    entries = list(bank_service.iter_entries("ncmec-industry"))
    assert len(entries) == 4  # no duplicates, video1 gone
    assert ids_before[a["md5"]] in {e.id for e in entries}  # page-1 entries kept their ids
    status = exchange_service.statuses(ncmec)[0]
    assert (status.failures, status.last_error, status.records) == (0, None, 4)
    assert status.as_of is not None


def test_next_fetch_starts_where_the_window_ended(
    ncmec: str,
    fetcher: ExchangeFetcher,
    exchange_service: ExchangeService,
    recorded: Recorded,
    pages: dict[str, bytes],
) -> None:
    for key, body in pages.items():
        recorded.script(key, (200, body))
    fetcher.fetch(ncmec)
    first_to = recorded.requests[0].query["to"][0]
    with exchange_service.engine.connect() as c:
        checkpoint = json.loads(c.execute(select(exchange_states.c.checkpoint)).scalar_one())
    assert ncmec_time(checkpoint["from"]) == first_to
    assert set(checkpoint) == {"from"}
    recorded.script("first", (200, _page("", "", None)))
    fetcher.fetch(ncmec)
    assert recorded.requests[-1].query["from"] == [first_to]
    assert ncmec_time(0) == "1970-01-01T00:00:00Z"
    assert datetime.fromtimestamp(0, UTC).year == 1970


def test_deletion_spares_an_entry_a_curator_added(
    ncmec: str,
    fetcher: ExchangeFetcher,
    bank_service: BankService,
    recorded: Recorded,
    pages: dict[str, bytes],
    benign_hashes: list[dict[str, str]],
) -> None:
    b = benign_hashes[1]
    bank_service.add_entry(
        "ncmec-industry", NewEntry("md5", b["md5"], category=Category("local", "x"))
    )
    for key, body in pages.items():
        recorded.script(key, (200, body))
    fetcher.fetch(ncmec)  # video1 (the same md5) is added, then deleted, by NCMEC
    kept = [e for e in bank_service.iter_entries("ncmec-industry") if e.value == b["md5"]]
    assert [(e.source, str(e.category)) for e in kept] == [("", "local:x")]
    others = [e for e in bank_service.iter_entries("ncmec-industry") if e.value != b["md5"]]
    assert {e.source for e in others} == {source_label(ncmec)}


def test_one_fetcher_at_a_time(
    ncmec: str,
    fetcher: ExchangeFetcher,
    exchange_service: ExchangeService,
    bank_service: BankService,
) -> None:
    other = ExchangeFetcher(exchange_service, bank_service, worker_id="other")
    exchange = exchange_service.get_exchange(ncmec)
    assert other._claim(exchange) == 1
    with pytest.raises(ConflictError, match="being fetched by another worker"):
        fetcher.fetch(ncmec)
    assert exchange_service.statuses(ncmec)[0].fetching
    assert fetcher.due() == []


def test_unreadable_page_is_an_error_without_content(
    ncmec: str,
    fetcher: ExchangeFetcher,
    exchange_service: ExchangeService,
    recorded: Recorded,
    benign_hashes: list[dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_hash = benign_hashes[0]["md5"]
    recorded.script("first", (200, f"<queryResult><images><image><id>{secret_hash}".encode()))
    with pytest.raises(FetchError) as info:
        fetcher.fetch(ncmec)
    assert info.value.message == "NCMEC answered XML that does not parse (line 1)"
    assert secret_hash not in caplog.text
    assert exchange_service.statuses(ncmec)[0].last_error == info.value.message


def test_schedule_honours_interval_and_enabled(
    ncmec: str,
    fetcher: ExchangeFetcher,
    exchange_service: ExchangeService,
    recorded: Recorded,
    pages: dict[str, bytes],
) -> None:
    assert fetcher.due() == [ncmec]  # never fetched
    for key, body in pages.items():
        recorded.script(key, (200, body))
    assert fetcher.run_once() == 1
    assert fetcher.due() == []  # the hour has not passed
    later = ExchangeFetcher(
        exchange_service,
        fetcher.banks,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=3601),
    )
    assert later.due() == [ncmec]
    exchange_service.set_enabled(ncmec, False)
    assert later.due() == []
