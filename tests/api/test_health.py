"""``/healthz`` and ``/readyz``: no key needed; ready only once the index is loaded."""

from __future__ import annotations

from fastapi.testclient import TestClient

from safehold.api.app import create_app
from safehold.settings import Settings


def test_health_needs_no_key(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert isinstance(body["change_seq"], int)
    # A bad key does not matter on health routes.
    assert api.get("/healthz", headers={"Authorization": "Bearer nope"}).status_code == 200


def test_not_ready_until_the_index_loads(service_settings: Settings) -> None:
    app = create_app(service_settings, background=False)  # nothing loads the index
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json() == {"status": "not_ready", "reason": "index loading"}
