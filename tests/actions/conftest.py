"""Fixtures for match events, actions and webhook delivery: a bank with one entry, settings
that let webhooks reach loopback, a fake clock, and a real webhook receiver (stdlib
``http.server`` on 127.0.0.1) that drops duplicate deliveries as receivers should."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from safehold.actions import ActionService
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.settings import Settings, get_settings

BANK = "Known-Hashes"
#: The bank entry's value: SHA-256 of benign bytes (tests check it never leaves the database).
ENTRY_VALUE = hashlib.sha256(b"benign test content").hexdigest()


@pytest.fixture
def action_settings(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test database's settings, letting webhooks reach 127.0.0.0/8 (also in the
    environment, for CLI subprocesses)."""
    monkeypatch.setenv("SAFEHOLD_FETCH_ALLOW_NETWORKS", '["127.0.0.0/8"]')
    get_settings.cache_clear()
    return get_settings().model_copy(
        update={"webhook_backoff_seconds": 10.0, "webhook_timeout_seconds": 5.0}
    )


@pytest.fixture
def actions(engine: Engine, action_settings: Settings) -> ActionService:
    """An :class:`ActionService` on the parametrised database."""
    return ActionService(engine, action_settings)


@pytest.fixture
def entry_id(bank_service: BankService) -> int:
    """Make bank ``Known-Hashes`` (one sha256 entry, category ``vics:1``); return the entry id."""
    bank_service.create_bank(BANK)
    bank_service.add_entries(
        BANK, [NewEntry("sha256", ENTRY_VALUE, category=Category("vics", "1"))]
    )
    (entry,) = bank_service.iter_entries(BANK)
    return entry.id


@dataclass
class FakeClock:
    """A settable UTC clock for the deliverer (``clock()`` returns ``now``). It starts a
    minute ahead of the wall clock, so rows the test queues (at wall-clock time) are due."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(minutes=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Receiver:
    """A webhook receiver. ``requests`` holds ``(delivery_id, headers, body)`` of every
    request; ``processed`` the delivery ids it acted on (each at most once: duplicates,
    recognised by ``Safehold-Delivery-Id``, are acknowledged without processing).
    ``statuses`` are answered in turn (then 200). With ``block_first``, the first request
    sets ``arrived`` and waits for ``release`` before it is processed and answered."""

    port: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    block_first: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?token=abc"

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _id, _headers, body in self.requests]


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            delivery_id = self.headers.get("Safehold-Delivery-Id", "")
            with receiver.lock:
                first = not receiver.requests
                receiver.requests.append((delivery_id, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            if first and receiver.block_first:
                receiver.arrived.set()
                receiver.release.wait(60)
            with receiver.lock:
                if 200 <= status < 300 and delivery_id not in receiver.processed:
                    receiver.processed.append(delivery_id)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the deliverer is gone (killed mid-request)
                pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running :class:`Receiver` on 127.0.0.1."""
    info = Receiver()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(info))
    httpd.daemon_threads = True
    info.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield info
    info.release.set()
    httpd.shutdown()
    httpd.server_close()
