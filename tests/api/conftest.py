"""API fixtures: the whole app on real SQLite and real PostgreSQL, switched by one parameter.

``api`` is a :class:`fastapi.testclient.TestClient` running the app's start-up (index loaded
in the background thread, webhook deliverer running) on the database of the parametrised
``db_settings`` fixture (``tests/conftest.py``), so every API test runs on both backends.
``key_headers("curator")`` makes a key with those scopes and returns its request headers.
``limited_api`` is the same app with a 1 KiB upload limit (``max_upload_bytes``),
``import_limited_api`` with a 1 KiB bulk import limit (``max_import_bytes``); ``sqlite_api``
runs on SQLite only, for tests that do not depend on the database backend.
``media_server`` serves the shared reference media over loopback HTTP, and
``loopback_fetching`` lets the running app fetch from it (URL routes).
``scope_matrix`` is the expected route-by-scope matrix (used by test_scopes, test_schemathesis).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safehold.api.app import create_app
from safehold.api.state import ServiceState
from safehold.fetching import UrlFetcher
from safehold.settings import Settings

KeyHeaders = Callable[..., dict[str, str]]


@pytest.fixture
def service_settings(db_settings: Settings) -> Settings:
    """The test database's settings, polling bank changes quickly."""
    return db_settings.model_copy(update={"index_poll_seconds": 0.05})


def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    """Block until ``/readyz`` answers 200 (the index is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"service not ready after {timeout} s: {client.get('/readyz').json()}")


@pytest.fixture
def api(service_settings: Settings) -> Iterator[TestClient]:
    """The running app on the parametrised database, ready to match."""
    app = create_app(service_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def sqlite_api(settings: Settings) -> Iterator[TestClient]:
    """The app on a fresh SQLite database only, for tests whose subject does not depend on the
    database backend (who is refused, not what is stored)."""
    app = create_app(settings.model_copy(update={"index_poll_seconds": 0.05}))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def limited_api(service_settings: Settings) -> Iterator[TestClient]:
    """The app with ``max_upload_bytes`` = 1024, for the request body limit."""
    app = create_app(service_settings.model_copy(update={"max_upload_bytes": 1024}))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def import_limited_api(service_settings: Settings) -> Iterator[TestClient]:
    """The app with ``max_import_bytes`` = 1024, for the bulk import bound."""
    app = create_app(service_settings.model_copy(update={"max_import_bytes": 1024}))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def api_state(api: TestClient) -> ServiceState:
    """The app's :class:`ServiceState` (its services, for arranging test data directly)."""
    state: ServiceState = api.app.state.safehold  # type: ignore[attr-defined]
    return state


@pytest.fixture
def key_headers(api_state: ServiceState) -> KeyHeaders:
    """``key_headers(*scopes, rate_limit=None)`` -> headers carrying a new key's secret."""

    def make(*scopes: str, rate_limit: float | None = None) -> dict[str, str]:
        created = api_state.keys.create_key(
            f"test {' '.join(scopes)}", scopes or ("admin",), rate_limit=rate_limit
        )
        return {"Authorization": f"Bearer {created.secret}"}

    return make


# -- who may call what: every operation of the OpenAPI schema -> roles allowed ----------------
# "none" means no key is needed; "admin" is allowed everywhere. Classify every new route here
# (tests/api/test_scopes.py fails on an unlisted one) and in docs/service.md.
_PUBLIC = frozenset({"none", "admin", "curator", "matcher", "client"})
_ADMIN = frozenset({"admin"})
_CURATOR = frozenset({"admin", "curator"})
_READER = frozenset({"admin", "curator", "matcher"})
_MATCHER = frozenset({"admin", "matcher"})
_MATCH_CALLER = frozenset({"admin", "matcher", "client"})

SCOPE_MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): _PUBLIC,
    ("GET", "/readyz"): _PUBLIC,
    ("GET", "/metrics"): _READER,
    ("GET", "/v1/keys"): _ADMIN,
    ("POST", "/v1/keys"): _ADMIN,
    ("DELETE", "/v1/keys/{key_id}"): _ADMIN,
    # hashing and matching (routes/matching.py, routes/index_status.py)
    ("POST", "/v1/hash"): _MATCH_CALLER,
    ("POST", "/v1/match"): _MATCH_CALLER,
    ("POST", "/v1/match/batch"): _MATCH_CALLER,
    ("POST", "/v1/hash-and-match"): _MATCH_CALLER,
    ("GET", "/v1/index/status"): _READER,
    # URL lists (routes/urls.py): clients get match and action only
    ("POST", "/v1/urls/check"): _MATCH_CALLER,
    # banks and entries (routes/banks.py, routes/entries.py)
    ("GET", "/v1/banks"): _CURATOR,
    ("POST", "/v1/banks"): _CURATOR,
    ("GET", "/v1/banks/{bank_name}"): _CURATOR,
    ("PATCH", "/v1/banks/{bank_name}"): _CURATOR,
    ("DELETE", "/v1/banks/{bank_name}"): _CURATOR,
    ("GET", "/v1/banks/{bank_name}/summary"): _CURATOR,
    ("POST", "/v1/banks/{bank_name}/import"): _CURATOR,
    ("GET", "/v1/banks/{bank_name}/entries"): _CURATOR,
    ("POST", "/v1/banks/{bank_name}/entries"): _CURATOR,
    ("POST", "/v1/banks/{bank_name}/entries/delete"): _CURATOR,
    ("GET", "/v1/entries/{entry_id}"): _CURATOR,
    ("PATCH", "/v1/entries/{entry_id}"): _CURATOR,
    ("DELETE", "/v1/entries/{entry_id}"): _CURATOR,
    # actions, match events, webhook deliveries (routes/actions.py)
    ("GET", "/v1/banks/{bank_name}/actions"): _CURATOR,
    ("POST", "/v1/banks/{bank_name}/actions"): _CURATOR,
    ("PATCH", "/v1/banks/{bank_name}/actions/{action_id}"): _CURATOR,
    ("DELETE", "/v1/banks/{bank_name}/actions/{action_id}"): _CURATOR,
    ("GET", "/v1/match-events"): _CURATOR,
    ("GET", "/v1/deliveries"): _CURATOR,
    ("POST", "/v1/deliveries/{delivery_id}/retry"): _CURATOR,
    # grooming risk (routes/conversations.py): clients get level and action only
    ("POST", "/v1/conversations/score"): _MATCH_CALLER,
    ("POST", "/v1/conversations/{conversation_id}/messages"): _MATCH_CALLER,
    ("GET", "/v1/conversations/{conversation_id}"): _MATCH_CALLER,
    ("DELETE", "/v1/conversations/{conversation_id}"): _MATCHER,
    # live-stream monitoring (routes/streams.py)
    ("POST", "/v1/streams"): _MATCHER,
    ("GET", "/v1/streams"): _MATCHER,
    ("GET", "/v1/streams/{stream_id}"): _MATCHER,
    ("POST", "/v1/streams/{stream_id}/stop"): _MATCHER,
    ("GET", "/v1/streams/{stream_id}/alerts"): _MATCHER,
    # HMA 2.x compatible routes (routes/hma.py, routes/hma_curation.py)
    ("GET", "/status"): _PUBLIC,
    ("GET", "/h/hash"): _MATCH_CALLER,
    ("POST", "/h/hash"): _MATCH_CALLER,
    ("GET", "/m/raw_lookup"): _MATCH_CALLER,
    ("GET", "/m/lookup"): _MATCH_CALLER,
    ("POST", "/m/lookup"): _MATCH_CALLER,
    ("GET", "/m/index/status"): _READER,
    ("POST", "/m/compare"): _MATCH_CALLER,
    ("GET", "/c/banks"): _CURATOR,
    ("POST", "/c/banks"): _CURATOR,
    ("GET", "/c/bank/{bank_name}"): _CURATOR,
    ("PUT", "/c/bank/{bank_name}"): _CURATOR,
    ("DELETE", "/c/bank/{bank_name}"): _CURATOR,
    ("GET", "/c/bank/{bank_name}/content/{content_id}"): _CURATOR,
    ("PUT", "/c/bank/{bank_name}/content/{content_id}"): _CURATOR,
    ("DELETE", "/c/bank/{bank_name}/content/{content_id}"): _CURATOR,
    ("POST", "/c/bank/{bank_name}/content"): _CURATOR,
    ("POST", "/c/bank/{bank_name}/signal"): _CURATOR,
    ("GET", "/c/signal_type"): _CURATOR,
    ("GET", "/c/signal_type/index"): _CURATOR,
    ("GET", "/c/content_type"): _CURATOR,
    # exchanges (routes/exchanges.py): settings name sources and accounts
    ("GET", "/v1/exchanges"): _ADMIN,
    ("GET", "/v1/exchanges/{exchange_name}"): _ADMIN,
    # federation feed (routes/federation.py): peers read the shared banks' changes
    ("GET", "/v1/federation/feed"): frozenset({"admin", "peer"}),
}


@pytest.fixture
def scope_matrix() -> dict[tuple[str, str], frozenset[str]]:
    """(method, OpenAPI path) -> roles allowed to call it (``none``: no key needed)."""
    return SCOPE_MATRIX


# -- URL fetching from loopback (HMA routes, issue 4 item 3) ------------------------------------


@pytest.fixture(scope="session")
def media_server(shared_data: Path) -> Iterator[str]:
    """Base URL of a loopback HTTP server serving ``shared/data/reference`` read-only (GET),
    e.g. ``f"{media_server}/images/bridge-mods/aaa-orig.jpg"``."""

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    handler = functools.partial(Handler, directory=str(shared_data / "reference"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_fetching(api_state: ServiceState, service_settings: Settings) -> Iterator[None]:
    """Let the running app fetch from loopback (``fetch_allow_networks = 127.0.0.0/8``), which
    the default settings refuse; the real fetcher, only its address policy differs."""
    original = api_state.fetcher
    allowed = service_settings.model_copy(update={"fetch_allow_networks": ["127.0.0.0/8"]})
    api_state.fetcher = UrlFetcher(allowed)
    yield
    api_state.fetcher.close()
    api_state.fetcher = original
