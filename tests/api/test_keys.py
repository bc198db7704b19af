"""``/v1/keys``: admins create (secret shown once), list and revoke API keys."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from safehold.api.state import ServiceState

KeyHeaders = Callable[..., dict[str, str]]


def test_create_list_revoke(api: TestClient, key_headers: KeyHeaders) -> None:
    admin = key_headers("admin")
    made = api.post(
        "/v1/keys",
        json={"name": "edge matcher", "scopes": ["matcher"], "rate_limit": 25},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "edge matcher"
    assert body["scopes"] == ["matcher"]
    assert body["rate_limit"] == 25
    assert body["revoked_at"] is None
    secret = body["secret"]
    assert secret.startswith(body["prefix"] + "_")

    listed = api.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    mine = [k for k in listed.json() if k["id"] == body["id"]]
    assert mine
    assert "secret" not in mine[0]
    assert secret not in listed.text

    # The new key works on a route its scope allows, and not on key management.
    own = {"X-API-Key": secret}
    assert api.get("/metrics", headers=own).status_code == 200
    assert api.get("/v1/keys", headers=own).status_code == 403

    revoked = api.delete(f"/v1/keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api.get("/metrics", headers=own).status_code == 401  # at once in this worker
    ids = [k["id"] for k in api.get("/v1/keys", headers=admin).json()]
    assert body["id"] not in ids
    all_ids = [k["id"] for k in api.get("/v1/keys?include_revoked=true", headers=admin).json()]
    assert body["id"] in all_ids
    again = api.delete(f"/v1/keys/{body['id']}", headers=admin)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # idempotent


def test_key_input_errors(api: TestClient, key_headers: KeyHeaders) -> None:
    admin = key_headers("admin")
    bad_scope = api.post("/v1/keys", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert bad_scope.status_code == 422
    assert bad_scope.json()["error"]["type"] == "invalid_input"
    no_scope = api.post("/v1/keys", json={"name": "x", "scopes": []}, headers=admin)
    assert no_scope.status_code == 422
    bad_rate = api.post(
        "/v1/keys", json={"name": "x", "scopes": ["client"], "rate_limit": 0}, headers=admin
    )
    assert bad_rate.status_code == 422
    missing = api.delete("/v1/keys/999999999", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    huge = api.delete(f"/v1/keys/{2**80}", headers=admin)
    assert huge.status_code in (404, 422)


def test_created_key_is_stored_hashed(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    made = api.post(
        "/v1/keys", json={"name": "stored", "scopes": ["client"]}, headers=key_headers("admin")
    ).json()
    key = api_state.keys.get_key(made["id"])
    assert key.prefix == made["prefix"]
    assert key.scopes == {"client"}
    assert api_state.keys.authenticate(made["secret"]).id == made["id"]
