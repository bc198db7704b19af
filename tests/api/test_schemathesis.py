"""Property-based runs over the app's own OpenAPI schema (Schemathesis generates the requests).

* With an admin key, no operation answers a server error (5xx) for any generated input, valid or
  not. A 502 ``fetch_failed`` is allowed: it is the documented answer when a URL to fetch cannot
  be reached (these tests have no network).
* Without a key, or with a ``client`` key on routes clients may not use, every operation but
  the public ones refuses with 401 or 403, whatever the input: the key is checked before the
  request is validated, so a caller without a key learns nothing about a route's input.

Runs are bounded and deterministic (``derandomize``, a fixed number of examples per operation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import ASGIClient

from safehold.api.state import ServiceState

BASE_URL = "http://testserver"
ADMIN_EXAMPLES = 10  # per operation and generation mode (positive, negative)
REFUSAL_EXAMPLES = 3


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    session: ASGIClient,
    examples: int,
    headers: Callable[[], dict[str, str]],
    verdict: Callable[[str, Any], str | None],
) -> str | None:
    """Send ``examples`` generated requests to one operation; return the first problem."""
    label = f"{operation.method.upper()} {operation.path}"
    found: list[str] = []

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(session=session, base_url=BASE_URL, headers=headers())
        problem = verdict(label, response)
        if problem is not None and not found:
            found.append(f"{problem} ({mode.value}); reproduce: {case.as_curl_command()}")

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        return None  # nothing to vary in this mode (e.g. no parameters to make invalid)
    return found[0] if found else None


def _run(
    api: TestClient,
    examples: int,
    headers: Callable[[], dict[str, str]],
    verdict: Callable[[str, Any], str | None],
    *,
    skip: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Fuzz every operation in both generation modes; return the problems (one per mode)."""
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    # Not entered as a context manager: the `api` fixture already ran the app's lifespan.
    session = ASGIClient(api.app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in skip:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problem = _fuzz(operation, mode, session, examples, headers, verdict)
            if problem is not None:
                failures.append(problem)
    return failures


def _server_error(label: str, response: Any) -> str | None:
    status = response.status_code
    if status < 500:
        return None
    if status == 502 and response.json().get("error", {}).get("type") == "fetch_failed":
        return None
    return f"{label}: {status} {response.text[:200]}"


@pytest.fixture
def admin_headers(api_state: ServiceState) -> Callable[[], dict[str, str]]:
    """Headers of a live admin key; a new key is made when the run revoked the current one."""
    holder: dict[str, str] = {}

    def current() -> dict[str, str]:
        secret = holder.get("secret")
        try:
            api_state.keys.authenticate(secret)
        except Exception:
            secret = holder["secret"] = api_state.keys.create_key("schemathesis", "admin").secret
        return {"Authorization": f"Bearer {secret}"}

    return current


def test_no_server_errors_with_an_admin_key(
    api: TestClient, admin_headers: Callable[[], dict[str, str]]
) -> None:
    failures = _run(api, ADMIN_EXAMPLES, admin_headers, _server_error)
    assert not failures, "\n".join(failures)


def test_no_key_is_refused_before_validation(
    sqlite_api: TestClient, scope_matrix: dict[tuple[str, str], frozenset[str]]
) -> None:
    public = frozenset(route for route, roles in scope_matrix.items() if "none" in roles)

    def refused(label: str, response: Any) -> str | None:
        if response.status_code == 401:
            return None
        return f"{label}: {response.status_code} without a key"

    failures = _run(sqlite_api, REFUSAL_EXAMPLES, dict, refused, skip=public)
    assert not failures, "\n".join(failures)


def test_client_key_is_refused_outside_matching(
    sqlite_api: TestClient, scope_matrix: dict[tuple[str, str], frozenset[str]]
) -> None:
    keys = sqlite_api.app.state.safehold.keys  # type: ignore[attr-defined]
    # Bearer: it takes precedence over a generated X-API-Key header.
    client = {"Authorization": f"Bearer {keys.create_key('client', 'client').secret}"}
    client_routes = frozenset(route for route, roles in scope_matrix.items() if "client" in roles)

    def refused(label: str, response: Any) -> str | None:
        if response.status_code == 403:
            return None
        return f"{label}: {response.status_code} for a client key"

    failures = _run(sqlite_api, REFUSAL_EXAMPLES, lambda: client, refused, skip=client_routes)
    assert not failures, "\n".join(failures)
