"""``/v1/banks/{bank}/actions``, ``/v1/match-events`` and ``/v1/deliveries``: curators manage
webhooks and read the event log and dead letters; matcher and client keys cannot."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from safehold.api.state import ServiceState
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import outbox

KeyHeaders = Callable[..., dict[str, str]]
HOOK = "https://hooks.invalid/safehold?token=abc"  # .invalid never resolves (RFC 2606)


@pytest.fixture
def bank(api_state: ServiceState) -> str:
    api_state.banks.create_bank("Known-Hashes")
    return "Known-Hashes"


def _record(state: ServiceState, bank: str, n: int = 1) -> list[int]:
    matches = [MatchInfo(bank, 1000 + i, "md5", 0, None, "") for i in range(n)]
    return state.actions.record_matches(matches, content_ref="ref", origin="api", api_key_id=None)


def test_curators_manage_a_banks_webhooks(
    api: TestClient, key_headers: KeyHeaders, bank: str
) -> None:
    curator = key_headers("curator")
    made = api.post(
        f"/v1/banks/{bank.lower()}/actions", json={"url": HOOK, "max_attempts": 4}, headers=curator
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["bank"], body["url"], body["max_attempts"], body["enabled"]) == (
        bank,
        HOOK,
        4,
        True,
    )
    secret = body["secret"]
    assert len(secret) == 43

    listed = api.get(f"/v1/banks/{bank}/actions", headers=curator)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [body["id"]]
    assert secret not in listed.text
    assert "secret" not in listed.json()[0]

    path = f"/v1/banks/{bank}/actions/{body['id']}"
    off = api.patch(path, json={"enabled": False}, headers=curator)
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert api.patch(path, json={"enabled": "maybe"}, headers=curator).status_code == 422
    assert api.delete(path, headers=curator).status_code == 204
    gone = api.delete(path, headers=curator)
    assert gone.status_code == 404
    assert gone.json()["error"]["type"] == "not_found"


def test_action_input_errors(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, bank: str
) -> None:
    admin = key_headers("admin")
    url = f"/v1/banks/{bank}/actions"
    for target, kind in [
        ("http://10.0.0.1/hook", "unsafe_url"),
        ("http://169.254.169.254/latest/meta-data/", "unsafe_url"),
        ("file:///etc/passwd", "unsafe_url"),
        ("http://user:hunter2@hooks.invalid/", "unsafe_url"),
        ("", "invalid_input"),
    ]:
        response = api.post(url, json={"url": target}, headers=admin)
        assert response.status_code == 422, target
        assert response.json()["error"]["type"] == kind
        assert "hunter2" not in response.text
    assert api.post(url, json={"url": HOOK, "max_attempts": 0}, headers=admin).status_code == 422
    missing = api.post("/v1/banks/nope/actions", json={"url": HOOK}, headers=admin)
    assert missing.status_code == 404
    assert api.get("/v1/banks/nope/actions", headers=admin).status_code == 404
    made = api.post(url, json={"url": HOOK}, headers=admin).json()
    api_state.banks.create_bank("other")
    api_other = f"/v1/banks/other/actions/{made['id']}"
    assert api.patch(api_other, json={"enabled": False}, headers=admin).status_code == 404
    assert api.delete(f"{url}/0", headers=admin).status_code == 422
    assert api.delete(f"{url}/{2**40}", headers=admin).status_code == 422


@pytest.mark.parametrize("scope", ["matcher", "client"])
def test_untrusted_and_matcher_keys_are_refused(
    api: TestClient, key_headers: KeyHeaders, bank: str, scope: str
) -> None:
    headers = key_headers(scope)
    assert api.get(f"/v1/banks/{bank}/actions", headers=headers).status_code == 403
    made = api.post(f"/v1/banks/{bank}/actions", json={"url": HOOK}, headers=headers)
    assert made.status_code == 403
    assert api.get("/v1/match-events", headers=headers).status_code == 403
    assert api.get("/v1/deliveries?status=dead", headers=headers).status_code == 403
    assert api.post("/v1/deliveries/1/retry", headers=headers).status_code == 403
    assert api.get("/v1/match-events").status_code == 401


def test_match_events_are_paged_by_id(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, bank: str
) -> None:
    curator = key_headers("curator")
    ids = _record(api_state, bank, n=5)
    first = api.get("/v1/match-events?limit=3", headers=curator)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["id"] for e in page["items"]] == ids[:3]
    assert page["next_after_id"] == ids[2]
    rest = api.get(f"/v1/match-events?limit=3&after_id={ids[2]}", headers=curator).json()
    assert [e["id"] for e in rest["items"]] == ids[3:]
    assert rest["next_after_id"] is None
    event = rest["items"][0]
    assert (event["bank"], event["entry_id"], event["signal_type"], event["origin"]) == (
        bank,
        1003,
        "md5",
        "api",
    )
    by_bank = api.get("/v1/match-events?bank=known-hashes", headers=curator).json()
    assert len(by_bank["items"]) == 5
    assert api.get("/v1/match-events?bank=nope", headers=curator).status_code == 404
    assert api.get("/v1/match-events?limit=0", headers=curator).status_code == 422
    assert api.get("/v1/match-events?after_id=-1", headers=curator).status_code == 422


def test_dead_letters_can_be_listed_and_retried(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, bank: str
) -> None:
    curator = key_headers("curator")
    api.post(f"/v1/banks/{bank}/actions", json={"url": HOOK}, headers=curator)
    _record(api_state, bank)
    engine = api_state.engine
    # The service's own deliverer tries it (hooks.invalid does not resolve) and backs off for
    # at least a second; meanwhile the row is made dead, as after its last attempt.
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as c:
            row = c.execute(select(outbox)).one()
        if row.attempts >= 1 and row.claimed_until is None:
            break
        assert time.monotonic() < deadline, "the deliverer did not try the delivery"
        time.sleep(0.05)
    assert "cannot resolve the host of https://hooks.invalid:443" in row.last_error
    with engine.begin() as c:
        c.execute(update(outbox).values(status="dead"))

    dead = api.get("/v1/deliveries?status=dead", headers=curator)
    assert dead.status_code == 200, dead.text
    (item,) = dead.json()["items"]
    assert (item["id"], item["status"], item["bank"]) == (row.id, "dead", bank)
    assert api.get("/v1/deliveries?status=pending", headers=curator).json()["items"] == []

    retried = api.post(f"/v1/deliveries/{row.id}/retry", headers=curator)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    again = api.post(f"/v1/deliveries/{row.id}/retry", headers=curator)
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "conflict"
    assert api.post(f"/v1/deliveries/{row.id + 50}/retry", headers=curator).status_code == 404
    assert api.get("/v1/deliveries?status=lost", headers=curator).status_code == 422
