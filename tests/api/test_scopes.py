"""Who may call what: API keys, rate limits, and the route-by-scope matrix.

The expected matrix is data, in ``tests/api/conftest.py`` (fixture ``scope_matrix``): every
operation of the OpenAPI schema with the roles allowed to call it. A route missing from it
fails :func:`test_every_route_is_classified`, so each new route must be classified there (and
in docs/service.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from safehold.api.state import ServiceState
from safehold.auth import KeyService

KeyHeaders = Callable[..., dict[str, str]]
ScopeMatrix = dict[tuple[str, str], frozenset[str]]

ROLES = ("none", "admin", "curator", "matcher", "client")


def _operations(api: TestClient) -> dict[tuple[str, str], dict[str, object]]:
    spec = api.get("/openapi.json").json()
    return {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }


def _example_path(path: str, operation: dict[str, object]) -> str:
    """Fill path parameters with values naming nothing that exists."""
    for param in operation.get("parameters", []):  # type: ignore[attr-defined]
        if param["in"] != "path":
            continue
        kind = param.get("schema", {}).get("type")
        value = "999999" if kind == "integer" else "no-such-thing"
        path = path.replace("{" + param["name"] + "}", value)
    return path


def test_every_route_is_classified(api: TestClient, scope_matrix: ScopeMatrix) -> None:
    found = set(_operations(api))
    unlisted = sorted(found - set(scope_matrix))
    stale = sorted(set(scope_matrix) - found)
    assert not unlisted, f"classify these routes in scope_matrix (and docs/service.md): {unlisted}"
    assert not stale, f"scope_matrix lists routes the app no longer has: {stale}"


def test_scope_matrix(api: TestClient, key_headers: KeyHeaders, scope_matrix: ScopeMatrix) -> None:
    headers = {role: key_headers(role) for role in ROLES if role != "none"}
    headers["none"] = {}
    wrong: list[str] = []
    for (method, path), operation in sorted(_operations(api).items()):
        allowed = scope_matrix.get((method, path))
        if allowed is None:
            continue  # test_every_route_is_classified reports it
        url = _example_path(path, operation)
        body = {"json": {}} if "requestBody" in operation else {}
        for role in ROLES:
            status = api.request(method, url, headers=headers[role], **body).status_code
            if role in allowed:
                ok = status not in (401, 403)
            elif role == "none":
                ok = status == 401
            else:
                ok = status == 403
            if not ok:
                wrong.append(f"{method} {path} as {role}: {status}")
    assert not wrong, "\n".join(wrong)


def test_bearer_and_header_keys(api: TestClient, api_state: ServiceState) -> None:
    secret = api_state.keys.create_key("both ways", ["curator"]).secret
    assert api.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert api.get("/metrics", headers={"Authorization": f"bearer {secret}"}).status_code == 200
    assert api.get("/metrics", headers={"X-API-Key": secret}).status_code == 200
    for bad in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": f"Bearer {secret}x"},
        {"X-API-Key": "shk_abcdefgh_not-a-real-key"},
    ):
        response = api.get("/metrics", headers=bad)
        assert response.status_code == 401, bad
        assert response.json()["error"]["type"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_elsewhere_is_refused_within_a_second(
    api: TestClient, api_state: ServiceState
) -> None:
    created = api_state.keys.create_key("to revoke", ["matcher"])
    headers = {"X-API-Key": created.secret}
    assert api.get("/metrics", headers=headers).status_code == 200  # cached in the worker
    KeyService(api_state.engine).revoke(created.key.id)  # as `safehold key revoke` does
    revoked_at = time.monotonic()
    while True:
        # A request that starts a cache period (1 s) after the revocation must be refused,
        # however slow the machine: the cached answer was read before the revocation.
        started = time.monotonic()
        if api.get("/metrics", headers=headers).status_code != 200:
            break
        assert started - revoked_at < api_state.keys.cache_seconds, "revoked key accepted"
        time.sleep(0.02)
    assert api.get("/metrics", headers=headers).status_code == 401


def test_rate_limit_per_key(api: TestClient, key_headers: KeyHeaders) -> None:
    # One request per second (a key's own rate bursts one second of it).
    limited = key_headers("matcher", rate_limit=1)
    other = key_headers("matcher", rate_limit=1)
    assert api.get("/metrics", headers=limited).status_code == 200
    refused = api.get("/metrics", headers=limited)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limited"
    retry_after = refused.headers["retry-after"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert api.get("/metrics", headers=other).status_code == 200  # other keys unaffected
