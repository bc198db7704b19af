"""Federation between two Safehold servers on loopback: the publisher (``publisher`` fixture, its
own SQLite database, served by uvicorn) shares opted-in banks; the subscriber (the parametrised
database, SQLite and PostgreSQL) fetches its feed as a ``safehold`` exchange and matches what
arrived through its own running app."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.exchanges.conftest import Publisher
from typer.testing import CliRunner

from safehold.api.app import create_app
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.errors import InvalidInputError
from safehold.exchanges import ExchangeFetcher, ExchangeService
from safehold.settings import Settings

HashRow = dict[str, str]


def _image(rows: list[HashRow], path: str) -> HashRow:
    return next(r for r in rows if r["path"] == path)


def _values(banks: BankService, bank: str) -> set[tuple[str, str, str | None]]:
    return {
        (e.signal_type, e.value, str(e.category) if e.category else None)
        for e in banks.iter_entries(bank)
    }


def _match(client: TestClient, headers: dict[str, str], pdq: str, expected: bool) -> None:
    """Wait for the subscriber's index to follow its bank, then assert the match decision."""
    deadline = time.monotonic() + 20
    while True:
        answer = client.post(
            "/v1/match", json={"signal_type": "pdq", "value": pdq}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        if answer.json()["match"] is expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answer.json()["match"] is expected
    if expected:
        assert [m["bank"] for m in answer.json()["matches"]] == ["from-peer"]


def test_a_bank_change_on_one_server_is_matched_by_the_other(
    publisher: Publisher,
    exchange_settings: Settings,
    exchange_service: ExchangeService,
    bank_service: BankService,
    fetcher: ExchangeFetcher,
    benign_hashes: list[HashRow],
) -> None:
    bridge = _image(benign_hashes, "images/bridge-mods/aaa-orig.jpg")
    coaster = _image(benign_hashes, "images/reg-test-input/pen-and-coaster.png")
    private = _image(benign_hashes, "images/misc-images/c.png")
    vics = Category("vics", "1")
    publisher.banks.create_bank("shared-list")
    publisher.banks.create_bank("private-list")
    publisher.banks.update_bank("shared-list", shared=True)
    publisher.banks.add_entries("shared-list", [NewEntry("md5", bridge["md5"], category=vics)])
    publisher.banks.add_entries("private-list", [NewEntry("pdq", private["pdq"])])
    publisher.subscribe(exchange_service, bank_service)

    quick = {"index_poll_seconds": 0.05, "exchange_fetcher": False}
    app = create_app(exchange_settings.model_copy(update=quick))
    with TestClient(app) as subscriber:
        secret = app.state.safehold.keys.create_key("m", ["matcher"]).secret
        matcher = {"Authorization": f"Bearer {secret}"}
        deadline = time.monotonic() + 30
        while subscriber.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)  # the index loads in the background
        _match(subscriber, matcher, bridge["pdq"], expected=False)

        # add on the publisher -> matched by the subscriber after its next fetch
        added = publisher.banks.add_entry("shared-list", NewEntry("pdq", bridge["pdq"], 100, vics))
        report = fetcher.fetch("peer-a")
        assert (report.added, report.removed, report.caught_up) == (2, 0, True)
        assert _values(bank_service, "from-peer") == {
            ("md5", bridge["md5"], "vics:1"),
            ("pdq", bridge["pdq"], "vics:1"),
        }
        _match(subscriber, matcher, bridge["pdq"], expected=True)
        _match(subscriber, matcher, private["pdq"], expected=False)  # never shared

        # delete on the publisher -> no longer matched after the next fetch
        publisher.banks.delete_entry(added.id)
        publisher.banks.add_entries("shared-list", [NewEntry("pdq", coaster["pdq"])])
        report = fetcher.fetch("peer-a")
        assert (report.added, report.removed) == (1, 1)
        _match(subscriber, matcher, bridge["pdq"], expected=False)
        _match(subscriber, matcher, coaster["pdq"], expected=True)
    assert _values(bank_service, "from-peer") == {
        ("md5", bridge["md5"], "vics:1"),
        ("pdq", coaster["pdq"], None),
    }
    # a fetch with nothing new changes nothing
    report = fetcher.fetch("peer-a")
    assert (report.records, report.added, report.removed) == (0, 0, 0)


def test_only_opted_in_banks_travel_and_opting_out_withdraws(
    publisher: Publisher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    fetcher: ExchangeFetcher,
    benign_hashes: list[HashRow],
) -> None:
    first = _image(benign_hashes, "images/reg-test-input/labelme-subset/q0003.jpg")
    second = _image(benign_hashes, "images/reg-test-input/labelme-subset/q0746.jpg")
    later = _image(benign_hashes, "images/tx-resources/sample-b.jpg")
    publisher.banks.create_bank("a", category=Category("uk-caid", "B"))
    publisher.banks.create_bank("b")
    publisher.banks.add_entries("a", [NewEntry("pdq", first["pdq"])])
    publisher.banks.add_entries("b", [NewEntry("sha256", second["sha256"])])
    publisher.banks.update_bank("a", shared=True)
    publisher.subscribe(exchange_service, bank_service, page_size="1")
    fetcher.fetch("peer-a")
    assert _values(bank_service, "from-peer") == {("pdq", first["pdq"], "uk-caid:B")}

    # "b" opted in after the subscriber caught up: its older entries arrive all the same
    publisher.banks.update_bank("b", shared=True)
    publisher.banks.add_entries("b", [NewEntry("md5", later["md5"])])
    report = fetcher.fetch("peer-a")
    assert (report.added, report.batches) == (2, 2)  # one change per page (page_size 1)
    assert _values(bank_service, "from-peer") == {
        ("pdq", first["pdq"], "uk-caid:B"),
        ("sha256", second["sha256"], None),
        ("md5", later["md5"], None),
    }

    # "a" opted out: its entries are withdrawn; a disabled entry of "b" is withdrawn too
    publisher.banks.update_bank("a", shared=False)
    (entry,) = [e for e in publisher.banks.iter_entries("b") if e.signal_type == "md5"]
    publisher.banks.set_entry_enabled(entry.id, False)
    report = fetcher.fetch("peer-a")
    assert report.removed == 2
    assert _values(bank_service, "from-peer") == {("sha256", second["sha256"], None)}

    # "b" deleted while shared: its entries are withdrawn
    publisher.banks.delete_bank("b")
    assert fetcher.fetch("peer-a").removed == 1
    assert _values(bank_service, "from-peer") == set()


def test_the_feed_carries_nothing_of_unshared_banks(
    publisher: Publisher, benign_hashes: list[HashRow]
) -> None:
    hidden = _image(benign_hashes, "images/tx-resources/rgb.jpeg")
    shown = _image(benign_hashes, "images/tx-resources/LA.png")
    publisher.banks.create_bank("hidden")
    publisher.banks.create_bank("shown")
    publisher.banks.update_bank("shown", shared=True)
    publisher.banks.add_entries("hidden", [NewEntry("md5", hidden["md5"])])
    publisher.banks.add_entries("shown", [NewEntry("md5", shown["md5"])])
    hidden_id = next(iter(publisher.banks.iter_entries("hidden"))).id
    publisher.banks.delete_entry(hidden_id)
    url = f"{publisher.url}/v1/federation/feed"
    peer = {"Authorization": f"Bearer {publisher.peer_key()}"}
    curator = {"Authorization": f"Bearer {publisher.keys.create_key('c', ['curator']).secret}"}
    for after in ("", "1.0"):  # from the start, and from a position before every change
        body = httpx.get(url, params={"after": after}, headers=peer).text
        assert shown["md5"] in body
        assert hidden["md5"] not in body
        assert f'\\"id\\":\\"{hidden_id}\\"' not in body  # not even its withdrawal
    assert httpx.get(url, headers=curator).status_code == 403
    assert httpx.get(url, headers={}).status_code == 401
    # past the 64-bit database range (SQLite raised OverflowError: 500), non-ASCII digits
    for after in ("x.1", "9223372036854775808.0", "1.9223372036854775808", "\u00b2.0", "1.\u0661"):
        bad = httpx.get(url, params={"after": after}, headers=peer)
        assert bad.status_code == 422, after
        assert "sequence" in bad.json()["error"]["message"]
    top = httpx.get(url, params={"after": "9223372036854775807.9223372036854775807"}, headers=peer)
    assert top.status_code == 200


@pytest.mark.parametrize("setting", [{"public_key": "not-a-key"}, {"page_size": "0"}, {"url": ""}])
def test_bad_settings_are_refused_when_added(
    publisher: Publisher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    setting: dict[str, str],
) -> None:
    with pytest.raises(InvalidInputError):
        publisher.subscribe(exchange_service, bank_service, **setting)


def test_bank_update_shared_flag_from_the_cli(bank_service: BankService) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["bank", "create", "to-share"]).exit_code == 0
    assert "shared:      no" in runner.invoke(app, ["bank", "show", "to-share"]).output
    before = bank_service.change_sequence()
    for _ in range(2):  # the second --shared changes nothing
        done = runner.invoke(app, ["bank", "update", "to-share", "--shared"])
        assert done.exit_code == 0, done.output
    bank = bank_service.get_bank("to-share")
    assert bank.shared
    assert bank_service.change_sequence() == before + 1  # one bank_shared change
    assert (
        "shared:      yes (federation feed)"
        in runner.invoke(app, ["bank", "show", "to-share"]).output
    )
    assert runner.invoke(app, ["bank", "update", "to-share", "--not-shared"]).exit_code == 0
    assert not bank_service.get_bank("to-share").shared
