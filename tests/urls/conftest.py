"""Fixtures for URL lists: a bank holding a small list of benign, made-up URLs (one entry of
each kind) on the parametrised database (SQLite and PostgreSQL), a live matcher over it, and
the running app over it with API keys of each scope.

The hosts are under ``example``, ``example.com`` and ``example.org`` (reserved for examples,
RFC 2606), so no real site is named.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import wait_ready

from safehold.api.app import create_app
from safehold.api.state import ServiceState
from safehold.banks.lines import PLAIN_LINE_LIMIT, DecodedLines
from safehold.banks.service import BankService
from safehold.banks.url_lists import read_url_list
from safehold.errors import FormatError
from safehold.matching import LiveMatcher
from safehold.settings import Settings

#: A URL list as a list provider ships it: a version header, one entry of each kind.
URL_LIST = """\
# list-version: 2026-11-30
example.com/bad/
http://files.example.org/share/item.html
https://www.example.net/view.php?id=7
host.example
"""


def read_list(text: str, fmt: str = "plain", **options: object) -> list[object]:
    """Every item :func:`read_url_list` yields for ``text``."""
    lines = DecodedLines(io.BytesIO(text.encode()), max_line_bytes=PLAIN_LINE_LIMIT)
    return list(read_url_list(lines, fmt, **options))  # type: ignore[arg-type]


@pytest.fixture
def url_bank(bank_service: BankService) -> str:
    """A bank ``urls`` holding :data:`URL_LIST` (4 entries, list version 2026-11-30)."""
    bank_service.create_bank("urls", source="hotline")
    items = read_list(URL_LIST, source="hotline")
    assert not [i for i in items if isinstance(i, FormatError)]
    assert bank_service.add_entries("urls", items, validated=True) == 4  # type: ignore[arg-type]
    return "urls"


@pytest.fixture
def url_matcher(bank_service: BankService, db_settings: Settings) -> Iterator[LiveMatcher]:
    """A loaded :class:`LiveMatcher` on the test database."""
    matcher = LiveMatcher(bank_service, db_settings)
    matcher.load()
    yield matcher
    matcher.stop()


@pytest.fixture
def url_api(db_settings: Settings, url_bank: str) -> Iterator[TestClient]:
    """The running app on the parametrised database holding :data:`URL_LIST`, ready."""
    app = create_app(db_settings.model_copy(update={"index_poll_seconds": 0.05}))
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


@pytest.fixture
def url_state(url_api: TestClient) -> ServiceState:
    """The app's :class:`ServiceState`."""
    state: ServiceState = url_api.app.state.safehold  # type: ignore[attr-defined]
    return state


@pytest.fixture
def headers(url_state: ServiceState) -> Callable[[str], dict[str, str]]:
    """``headers(scope)`` -> request headers carrying a new key with that scope."""

    def make(scope: str) -> dict[str, str]:
        secret = url_state.keys.create_key(f"test {scope}", [scope]).secret
        return {"Authorization": f"Bearer {secret}"}

    return make
