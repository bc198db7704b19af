"""GET /v1/index/status: the answering worker's index, counts only."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from safehold.api.state import ServiceState
from safehold.banks.models import NewEntry

KeyHeaders = Callable[..., dict[str, str]]

BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_status_follows_the_banks(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    api_state.banks.create_bank("known")
    api_state.banks.add_entries(
        "known", [NewEntry("pdq", BRIDGE), NewEntry("md5", "a" * 32), NewEntry("md5", "b" * 32)]
    )
    api_state.matcher.refresh()
    answer = api.get("/v1/index/status", headers=key_headers("curator"))
    assert answer.status_code == 200
    status = answer.json()
    assert status["ready"] is True
    assert status["change_seq"] == api_state.banks.change_sequence()
    assert status["entries"]["pdq"] == 1
    assert status["origin"] in ("snapshot", "rebuilt")
    assert status["last_error"] is None
    assert 0 <= status["seconds_since_refresh"] < 30
    assert BRIDGE not in answer.text
    assert api.get("/v1/index/status", headers=key_headers("matcher")).status_code == 200
    assert api.get("/v1/index/status", headers=key_headers("client")).status_code == 403
