"""``/v1/streams`` end to end: register the live HLS stream, a worker's monitor pool claims
it, the alert is stored with its match event, webhook outbox row and stop callback, and
``/metrics`` counts it; bad requests get 4xx with reasons."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safehold.api.app import create_app
from safehold.api.state import ServiceState
from safehold.livestreams.store import StreamStore
from safehold.settings import Settings

from .conftest import CHAIR_STARTS_AT, HlsStream, LiveServer


@pytest.fixture
def stream_api(db_settings: Settings, clean_streams: object) -> Iterator[TestClient]:
    """The app with loopback allowed (the test server) and a 1.5 s stream lease."""
    settings = db_settings.model_copy(
        update={
            "index_poll_seconds": 0.05,
            "fetch_allow_networks": ["127.0.0.0/8"],
            "stream_lease_seconds": 1.5,
        }
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client


def _headers(client: TestClient, *scopes: str) -> dict[str, str]:
    state: ServiceState = client.app.state.safehold  # type: ignore[attr-defined]
    created = state.keys.create_key("streams test", scopes)
    return {"Authorization": f"Bearer {created.secret}"}


def _wait_for(client: TestClient, path: str, headers: dict[str, str], status: str) -> dict:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        body = client.get(path, headers=headers).json()
        if body["status"] == status:
            return body
        time.sleep(0.2)
    raise AssertionError(f"stream never reached {status}: {body}")


def test_a_registered_stream_is_monitored_and_its_alert_recorded(
    stream_api: TestClient,
    live_server: LiveServer,
    clips: dict[str, tuple],
    chair_bank: tuple[str, set[int]],
) -> None:
    bank, chair_ids = chair_bank
    folder, segments = clips["mixed"]
    live_server.hls["mixed"] = HlsStream(folder, segments)
    curator = _headers(stream_api, "curator")
    hook = stream_api.post(
        f"/v1/banks/{bank}/actions", json={"url": live_server.url("/hook")}, headers=curator
    )
    assert hook.status_code == 201
    headers = _headers(stream_api, "matcher")

    made = stream_api.post(
        "/v1/streams",
        json={
            "url": live_server.url("/mixed/index.m3u8?key=secret-stream-key"),
            "name": "room 7",
            "stop_url": live_server.url("/stop"),
            "bank_decisions": {bank: {"frames": 2, "window": 3}},
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    stream = made.json()
    assert stream["status"] == "pending"
    assert stream["url"] == f"http://127.0.0.1:{live_server.port}"  # no path, no key
    assert stream["options"]["bank_decisions"] == {bank: {"frames": 2, "window": 3}}

    done = _wait_for(stream_api, f"/v1/streams/{stream['id']}", headers, "ended")
    assert done["alerts"] == 1
    assert done["frames_sampled"] >= 9
    assert done["monitor"] is None  # released

    alerts = stream_api.get(f"/v1/streams/{stream['id']}/alerts", headers=headers).json()
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["bank"] == bank
    assert alert["entry_id"] in chair_ids
    assert CHAIR_STARTS_AT <= alert["stream_seconds"] < CHAIR_STARTS_AT + 2.0
    assert (alert["matched_frames"], alert["window"]) == (2, 3)
    events = stream_api.get("/v1/match-events", headers=curator).json()["items"]
    assert [(e["id"], e["origin"], e["entry_id"]) for e in events] == [
        (alert["event_id"], "stream", alert["entry_id"])
    ]
    assert events[0]["content_ref"].startswith(f"stream:{stream['id']}@")
    deliveries = stream_api.get("/v1/deliveries", headers=curator).json()["items"]
    assert [d["event_id"] for d in deliveries] == [alert["event_id"]]
    deadline = time.monotonic() + 10
    while not [p for p in live_server.posts if p[0] == "/stop"] and time.monotonic() < deadline:
        time.sleep(0.1)
    stops = [json.loads(body) for path, body in live_server.posts if path == "/stop"]
    assert stops == [
        {
            "stream_id": stream["id"],
            "name": "room 7",
            "bank": bank,
            "entry_id": alert["entry_id"],
            "category": None,
            "stream_seconds": alert["stream_seconds"],
            "detected_at": stops[0]["detected_at"],
            "alert_id": alert["id"],
        }
    ]
    metrics = stream_api.get("/metrics", headers=headers).text
    assert 'safehold_streams{state="ended"} 1.0' in metrics
    assert "safehold_stream_alerts_total 1.0" in metrics


def test_stopping_a_stream(stream_api: TestClient, live_server: LiveServer) -> None:
    headers = _headers(stream_api, "matcher")
    live_server.bodies["/never.ts"] = [lambda h: h.send_error(503)]
    made = stream_api.post(
        "/v1/streams", json={"url": live_server.url("/never.ts")}, headers=headers
    ).json()

    stopped = stream_api.post(f"/v1/streams/{made['id']}/stop", headers=headers)

    assert stopped.status_code == 200
    assert stopped.json()["stop_requested"] is True
    final = _wait_for(stream_api, f"/v1/streams/{made['id']}", headers, "stopped")
    assert final["monitor"] is None
    listed = stream_api.get("/v1/streams?status=stopped", headers=headers).json()
    assert [s["id"] for s in listed["items"]] == [made["id"]]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"url": "file:///etc/passwd"}, 422, "'file' stream URLs are refused"),
        ({"url": "concat:http://a.example/x|file:///etc/passwd"}, 422, "'concat' stream"),
        ({"url": "http://10.1.2.3/live.m3u8"}, 422, "private address"),
        ({"url": "rtmp://user:pw@example.com/live"}, 422, "credentials"),
        ({"url": "http://127.0.0.1/x", "stop_url": "ftp://example.com/"}, 422, "only http"),
        ({"url": "http://127.0.0.1/x", "banks": ["nope"]}, 404, "nope"),
        ({"url": "http://127.0.0.1/x", "decision": {"frames": 3, "window": 2}}, 422, "frames"),
        ({"url": "http://127.0.0.1/x", "decode": "fast"}, 422, "decode"),
        ({"url": "http://127.0.0.1/x", "bank": "chair"}, 422, "bank"),  # the field is "banks"
        ({"url": "http://127.0.0.1/x", "decision": {"frames": 1, "windw": 2}}, 422, "windw"),
        ({"url": "udp://@:1234"}, 422, "listening for UDP streams"),
    ],
)
def test_bad_registrations_get_4xx_with_a_reason(
    stream_api: TestClient, body: dict, status: int, needle: str
) -> None:
    headers = _headers(stream_api, "matcher")

    answer = stream_api.post("/v1/streams", json=body, headers=headers)

    assert answer.status_code == status, answer.text
    assert needle in answer.text


def test_unknown_stream_and_scopes(stream_api: TestClient) -> None:
    assert (
        stream_api.get("/v1/streams/99", headers=_headers(stream_api, "matcher")).status_code == 404
    )
    assert stream_api.get("/v1/streams", headers=_headers(stream_api, "client")).status_code == 403
    assert stream_api.get("/v1/streams", headers=_headers(stream_api, "curator")).status_code == 403


def test_a_service_shutdown_hands_its_live_streams_over(
    db_settings: Settings,
    clean_streams: object,
    live_server: LiveServer,
    clips: dict[str, tuple[Path, list[tuple[str, float]]]],
) -> None:
    """A deploy or restart must not end monitoring: a worker shutting down releases its live
    streams as ``pending`` (claimable at once), not ``stopped``."""
    folder, segments = clips["doorknob"]
    live_server.hls["handover"] = HlsStream(folder, segments, speed=0.5)  # 16 s of stream
    settings = db_settings.model_copy(
        update={"fetch_allow_networks": ["127.0.0.0/8"], "stream_lease_seconds": 1.5}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        headers = _headers(client, "matcher")
        made = client.post(
            "/v1/streams", json={"url": live_server.url("/handover/index.m3u8")}, headers=headers
        ).json()
        _wait_for(client, f"/v1/streams/{made['id']}", headers, "live")
        engine = client.app.state.safehold.engine  # type: ignore[attr-defined]
    # the app has shut down here
    record = StreamStore(engine).get(made["id"])
    assert (record.status, record.claimed_by, record.desired) == ("pending", None, "run")
    taken = StreamStore(engine).claim("next-worker", 30.0, 5)
    assert [r.id for r in taken] == [made["id"]]
