"""Exchange fixtures: a loopback HTTP server replaying recorded responses, benign hashes, and the
exchange and bank services on real SQLite and PostgreSQL.

``publisher`` is a second Safehold serving its federation feed over loopback HTTP
(:class:`Publisher`). ``recorded`` is a :class:`Recorded` server: a test scripts what each
request answers (``recorded.script(key, (status, body), ...)``; the last answer repeats) and
reads back the requests it got (``recorded.requests``). Requests are keyed by a function the
test gives (NCMEC pages by their ``start`` parameter, StopNCII by its page token, ...).

Response bodies follow the shapes the services document (NCMEC hash sharing API v2 XML, the
StopNCII FetchHashes JSON, Graph API ``threat_updates`` JSON), as recorded in
python-threatexchange's client tests; the hash values in them are the benign reference images'
hashes from ``shared/data/reference/images/expected-hashes.csv``.
"""

from __future__ import annotations

import csv
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import Engine

from safehold.api.app import create_app
from safehold.auth import KeyService
from safehold.banks.service import BankService
from safehold.exchanges import ExchangeFetcher, ExchangeService
from safehold.exchanges.federation_protocol import new_key_pair
from safehold.settings import Settings, get_settings
from safehold.storage.engine import open_database

Answer = tuple[int, bytes]
KeyFunction = Callable[[str, dict[str, list[str]]], str]


@dataclass
class SeenRequest:
    """One request the server got: path, query parameters and headers (lower-case names)."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Recorded:
    """A loopback server answering scripted responses (see the module docstring)."""

    url: str
    key: KeyFunction = lambda path, query: path
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, key: str, *answers: Answer) -> None:
        """Answer requests with key ``key`` with ``answers`` in turn (the last one repeats)."""
        self.answers[key] = list(answers)

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> Answer:
        with self.lock:
            self.requests.append(SeenRequest(path, query, headers))
            queue = self.answers.get(self.key(path, query))
            if not queue:
                return 404, b"not scripted"
            return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """A :class:`Recorded` server on 127.0.0.1 (its base URL is ``recorded.url``)."""
    holder: dict[str, Recorded] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = holder["r"].answer(parts.path, parse_qs(parts.query), headers)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Recorded(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def benign_hashes(shared_data: Path) -> list[dict[str, str]]:
    """Rows (``path``, ``pdq``, ``md5``, ``sha256``) of the benign reference images."""
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture
def exchange_key() -> str:
    """A fresh Fernet key for the test's exchange credentials."""
    return Fernet.generate_key().decode()


@pytest.fixture
def exchange_settings(db_settings: Settings, exchange_key: str) -> Settings:
    """The test database's settings with an exchange key and loopback fetching allowed."""
    return db_settings.model_copy(
        update={
            "exchange_key": SecretStr(exchange_key),
            "fetch_allow_networks": ["127.0.0.0/8"],
            "exchange_lease_seconds": 30.0,
        }
    )


@pytest.fixture
def exchange_service(engine: Engine, exchange_settings: Settings) -> ExchangeService:
    """The exchange service on the parametrised database."""
    return ExchangeService(engine, exchange_settings)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, exchange_key: str, bank_service: BankService) -> None:
    """The CLI on the parametrised database with an exchange key, loopback fetches allowed,
    and an empty bank ``lists``."""
    monkeypatch.setenv("SAFEHOLD_EXCHANGE_KEY", exchange_key)
    monkeypatch.setenv("SAFEHOLD_FETCH_ALLOW_NETWORKS", '["127.0.0.0/8"]')
    get_settings.cache_clear()
    bank_service.create_bank("lists")


@pytest.fixture
def fetcher(exchange_service: ExchangeService, bank_service: BankService) -> ExchangeFetcher:
    """A fetcher for the test database's exchanges."""
    return ExchangeFetcher(exchange_service, bank_service, worker_id="test-fetcher")


# -- federation: a publishing Safehold served over loopback HTTP (test_federation*.py) --------


@dataclass
class Publisher:
    """A running publisher Safehold: its base ``url``, its services (on its own SQLite
    database), its ``public_key`` text and its ``private_key`` (tests sign forged pages)."""

    url: str
    settings: Settings
    banks: BankService
    keys: KeyService
    public_key: str
    private_key: Ed25519PrivateKey

    def peer_key(self) -> str:
        """A new API key of the publisher with the ``peer`` scope (its secret)."""
        return self.keys.create_key("subscriber", ["peer"]).secret

    def subscribe(self, exchanges: ExchangeService, banks: BankService, **settings: str) -> None:
        """Make the subscriber's bank ``from-peer`` and its exchange ``peer-a`` of this feed
        (publisher id ``pub-a`` unless ``settings`` say otherwise) with a new peer key."""
        banks.create_bank("from-peer")
        exchanges.add_exchange(
            "peer-a",
            "safehold",
            "from-peer",
            settings={"url": self.url, "public_key": self.public_key, "publisher": "pub-a",
                      **settings},
            credentials={"api_key": self.peer_key()},
        )  # fmt: skip


@pytest.fixture
def publisher(tmp_path: Path, sqlite_template: Path) -> Iterator[Publisher]:
    """A second Safehold (its own migrated SQLite database) serving its federation feed with
    uvicorn on 127.0.0.1, publisher id ``pub-a``; stopped after the test."""
    data_dir = tmp_path / "publisher"
    data_dir.mkdir()
    shutil.copyfile(sqlite_template, data_dir / "safehold.db")
    pem, public = new_key_pair()
    key_file = data_dir / "federation.pem"
    key_file.write_bytes(pem)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'safehold.db'}",
        federation_key_file=key_file,
        federation_publisher="pub-a",
        exchange_fetcher=False,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    engine = open_database(settings)
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    yield Publisher(
        f"http://127.0.0.1:{sock.getsockname()[1]}",
        settings,
        BankService(engine),
        KeyService(engine),
        public,
        loaded,
    )
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
    sock.close()
