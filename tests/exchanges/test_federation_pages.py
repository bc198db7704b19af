"""Federation pages that were tampered with, replayed, forged or misdirected are rejected before
anything of them is applied, and a fetch that fails mid-feed resumes from the last good page.

The publisher is real (``publisher`` fixture: a second Safehold over loopback HTTP); the
subscriber's transport is the real :class:`~safehold.exchanges.http.ExchangeHttp` wrapped by
:class:`Tamper`, which lets a test rewrite the publisher's answers like a man in the middle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.exchanges.conftest import Publisher

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.errors import FetchError
from safehold.exchanges import ExchangeFetcher, ExchangeService
from safehold.exchanges.federation_protocol import FeedPosition, check_page, sign_page
from safehold.exchanges.http import ExchangeHttp
from safehold.settings import Settings

HashRow = dict[str, str]
#: (call number from 1, the publisher's answer, the request's parameters) -> the answer to give
Rewrite = Callable[[int, bytes, Mapping[str, str | int]], bytes]

PATHS = (
    "images/reg-test-input/labelme-subset/q0003.jpg",
    "images/reg-test-input/labelme-subset/q0122.jpg",
    "images/reg-test-input/labelme-subset/q2821.jpg",
)


class Tamper:
    """An :class:`ExchangeHttp` whose answers pass through ``rewrite``; records each request's
    parameters in ``calls``."""

    def __init__(self, settings: Settings, name: str, rewrite: Rewrite) -> None:
        self.http = ExchangeHttp(settings, name)
        self.rewrite = rewrite
        self.calls: list[dict[str, str | int]] = []

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> bytes:
        body = self.http.get(url, params=params, headers=headers, auth=auth)
        self.calls.append(dict(params or {}))
        return self.rewrite(len(self.calls), body, params or {})

    def close(self) -> None:
        self.http.close()


def _edit_page(body: bytes, edit: Callable[[str], str]) -> bytes:
    """The envelope ``body`` with its page text edited and the signature left as it was."""
    envelope = json.loads(body)
    envelope["page"] = edit(envelope["page"])
    return json.dumps(envelope).encode()


def _resign(body: bytes, key: Ed25519PrivateKey, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The envelope ``body`` with its page edited and signed again with ``key``."""
    page = json.loads(json.loads(body)["page"])
    edit(page)
    return json.dumps(sign_page(page, key)).encode()


@pytest.fixture
def hashes(publisher: Publisher, benign_hashes: list[HashRow]) -> list[str]:
    """The PDQ hashes of three benign images, in a bank the publisher shares."""
    values = [next(r["pdq"] for r in benign_hashes if r["path"] == p) for p in PATHS]
    publisher.banks.create_bank("shared-list")
    publisher.banks.update_bank("shared-list", shared=True)
    for value in values:  # one change each: three feed positions
        publisher.banks.add_entries("shared-list", [NewEntry("pdq", value)])
    return values


def _subscriber(
    publisher: Publisher,
    exchanges: ExchangeService,
    banks: BankService,
    settings: Settings,
    rewrite: Rewrite,
    *,
    expect: str = "pub-a",
) -> tuple[ExchangeFetcher, list[Tamper]]:
    publisher.subscribe(exchanges, banks, publisher=expect, page_size="1")
    made: list[Tamper] = []

    def factory(name: str) -> Tamper:
        made.append(Tamper(settings, name, rewrite))
        return made[-1]

    return ExchangeFetcher(exchanges, banks, worker_id="t", http_factory=factory), made


def _pdqs(banks: BankService) -> list[str]:
    return sorted(e.value for e in banks.iter_entries("from-peer"))


def _flip_first_value(page: str, values: list[str]) -> str:
    value = values[0]
    assert value in page
    return page.replace(value, ("0" if value[0] != "0" else "1") + value[1:])


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("value", "signature does not verify"),
        ("checkpoint", "signature does not verify"),
        ("other key", "signature does not verify"),
        ("backwards", "goes back from"),
        ("replayed", "another position than the one asked for"),
        ("unsigned", "no signed feed page"),
    ],
)
def test_a_tampered_page_is_rejected_and_nothing_is_applied(
    publisher: Publisher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    exchange_settings: Settings,
    hashes: list[str],
    case: str,
    message: str,
) -> None:
    first: list[bytes] = []
    stranger = Ed25519PrivateKey.generate()

    def rewrite(call: int, body: bytes, params: Mapping[str, str | int]) -> bytes:
        first.append(body)
        if case == "value":
            return _edit_page(body, lambda page: _flip_first_value(page, hashes))
        if case == "checkpoint":
            return _edit_page(body, lambda page: page.replace('"checkpoint":"', '"checkpoint":"9'))
        if case == "other key":
            return _resign(body, stranger, lambda page: None)
        if case == "backwards":  # page 2 signed by the publisher's key, checkpoint before page 1's
            back = lambda page: page.update(checkpoint="0.1")  # noqa: E731
            return _resign(body, publisher.private_key, back) if call == 2 else body
        if case == "replayed":  # page 1 (a genuine page for after=0.0) served again for page 2
            return first[0] if call == 2 else body
        return json.dumps({"page": json.loads(body)["page"]}).encode()

    fetcher, _ = _subscriber(publisher, exchange_service, bank_service, exchange_settings, rewrite)
    kept = [hashes[0]] if case in ("replayed", "backwards") else []  # page 1 was genuine
    with pytest.raises(FetchError, match=message):
        fetcher.fetch("peer-a")
    assert _pdqs(bank_service) == sorted(kept)
    (status,) = exchange_service.statuses("peer-a")
    assert status.failures == 1
    assert status.last_error is not None
    assert message in status.last_error
    assert all(h not in status.last_error for h in hashes)  # never a hash in a message


def test_a_page_for_another_publisher_is_rejected(
    publisher: Publisher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    exchange_settings: Settings,
    hashes: list[str],
) -> None:
    fetcher, _ = _subscriber(
        publisher, exchange_service, bank_service, exchange_settings,
        lambda call, body, params: body, expect="pub-b",
    )  # fmt: skip
    with pytest.raises(FetchError, match="another publisher than 'pub-b'"):
        fetcher.fetch("peer-a")
    assert _pdqs(bank_service) == []


def test_a_failure_mid_feed_resumes_from_the_last_good_page(
    publisher: Publisher,
    exchange_service: ExchangeService,
    bank_service: BankService,
    exchange_settings: Settings,
    hashes: list[str],
) -> None:
    fail = {"on": 2}

    def rewrite(call: int, body: bytes, params: Mapping[str, str | int]) -> bytes:
        if call == fail["on"]:
            return _edit_page(body, lambda page: page.replace('"more":', '"more" :'))
        return body

    fetcher, made = _subscriber(
        publisher, exchange_service, bank_service, exchange_settings, rewrite
    )
    with pytest.raises(FetchError, match="signature does not verify"):
        fetcher.fetch("peer-a")
    assert _pdqs(bank_service) == [hashes[0]]  # page 1 committed, page 2 refused
    fail["on"] = 0
    report = fetcher.fetch("peer-a")
    first_checkpoint = made[0].calls[1]["after"]  # what page 1 ended at
    assert made[1].calls[0]["after"] == first_checkpoint  # resumed there, not from the start
    assert FeedPosition.parse(str(first_checkpoint)) > FeedPosition()
    assert (report.added, report.batches, report.caught_up) == (2, 2, True)
    assert _pdqs(bank_service) == sorted(hashes)  # no loss, no duplicates
    assert sum(1 for _ in bank_service.iter_entries("from-peer")) == 3


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ({"format": "other/1"}, "not in the format"),
        ({"after": "0.0"}, "another position"),
        ({"checkpoint": "3"}, "checkpoint is malformed"),
        ({"checkpoint": "9223372036854775808.0"}, "checkpoint is malformed"),  # past 2**63-1
        ({"checkpoint": "3.9223372036854775808"}, "checkpoint is malformed"),
        ({"changes": None}, "no list of changes"),
        ({"checkpoint": "2.7", "more": True, "changes": []}, "goes back"),
    ],
)
def test_check_page_refuses(page: dict[str, object], message: str) -> None:
    good: dict[str, object] = {
        "format": "safehold-federation/1", "publisher": "p", "after": "2.7",
        "checkpoint": "3.1", "more": False, "changes": [],
    }  # fmt: skip
    after = FeedPosition(2, 7)
    assert check_page(dict(good), publisher="p", after=after, what="w") == FeedPosition(3, 1)
    with pytest.raises(FetchError, match=message):
        check_page({**good, **page}, publisher="p", after=after, what="w")
