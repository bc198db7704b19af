"""``GET /metrics``: request counters by route template, latency, index, match events, outbox.

The counters live in one registry per test process (plain mode), so tests compare values
before and after what they do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from safehold.api.state import ServiceState
from safehold.banks.models import NewEntry
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import bank_actions, outbox, utcnow

KeyHeaders = Callable[..., dict[str, str]]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(api: TestClient, headers: dict[str, str]) -> Samples:
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_a_reader_key(api: TestClient, key_headers: KeyHeaders) -> None:
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=key_headers("client")).status_code == 403
    for scope in ("admin", "curator", "matcher"):
        assert api.get("/metrics", headers=key_headers(scope)).status_code == 200


def test_requests_are_counted_by_route_template(api: TestClient, key_headers: KeyHeaders) -> None:
    admin = key_headers("admin")
    before = _scrape(api, admin)
    for _ in range(3):
        api.get("/healthz")
    api.delete("/v1/keys/999999", headers=admin)  # 404 on a templated route
    api.get("/v1/nothing/here")  # no route at all
    after = _scrape(api, admin)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "safehold_http_requests_total"
    assert delta(requests, route="/healthz", method="GET", status="200") == 3
    assert delta(requests, route="/v1/keys/{key_id}", method="DELETE", status="404") == 1
    assert delta(requests, route="unmatched", method="GET", status="404") == 1
    assert delta(requests, route="/metrics", method="GET", status="200") == 1  # the first scrape
    latency = "safehold_http_request_duration_seconds"
    assert delta(f"{latency}_count", route="/healthz", method="GET") == 3
    assert delta(f"{latency}_bucket", route="/healthz", method="GET", le="+Inf") == 3
    assert delta(f"{latency}_sum", route="/healthz", method="GET") > 0
    assert not any("999999" in str(labels) for _, labels in after)  # no raw paths


def test_index_gauges_follow_the_banks(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    headers = key_headers("matcher")
    samples = _scrape(api, headers)
    assert _value(samples, "safehold_index_ready") == 1
    ready = api.get("/readyz").json()
    assert _value(samples, "safehold_index_change_seq") >= ready["change_seq"] >= 0
    assert _value(samples, "safehold_index_refresh_age_seconds") >= 0

    api_state.banks.create_bank("metrics-bank")
    values = ["0" * 63 + "1", "f" * 64, "0123456789abcdef" * 4]
    added = api_state.banks.add_entries(
        "metrics-bank", [NewEntry(signal_type="pdq", value=v, quality=100) for v in values]
    )
    assert added == 3
    deadline = time.monotonic() + 10
    while True:
        samples = _scrape(api, headers)
        if _value(samples, "safehold_index_entries", signal_type="pdq") == 3:
            break
        assert time.monotonic() < deadline, "the index did not pick up the new entries"
        time.sleep(0.05)
    status = api_state.matcher.status()
    assert _value(samples, "safehold_index_change_seq") <= status.change_seq
    assert status.entries.get("pdq") == 3


def test_match_events_are_counted(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    api_state.banks.create_bank("counted")
    entry = NewEntry(signal_type="md5", value="0" * 31 + "a")
    api_state.banks.add_entries("counted", [entry])
    entry_id = next(iter(api_state.banks.iter_entries("counted"))).id
    headers = key_headers("admin")
    name = "safehold_match_events_total"
    before = _scrape(api, headers)
    match = MatchInfo("counted", entry_id, "md5", 0, None, "")
    ids = api_state.actions.record_matches(
        [match, match], content_ref="upload-1", origin="api", api_key_id=None
    )
    assert len(ids) == 2
    after = _scrape(api, headers)
    assert (
        _value(after, name, signal_type="md5", origin="api")
        - _value(before, name, signal_type="md5", origin="api")
        == 2
    )


def test_outbox_gauges(api: TestClient, api_state: ServiceState, key_headers: KeyHeaders) -> None:
    bank = api_state.banks.create_bank("with-webhook")
    later = utcnow() + timedelta(days=1)  # not due: the deliverer leaves them alone
    with api_state.engine.begin() as c:
        action_id = c.execute(
            insert(bank_actions)
            .values(bank_id=bank.id, url="https://hooks.example.org/x", secret="s" * 32)
            .returning(bank_actions.c.id)
        ).scalar_one()
        rows = [
            {"status": status, "next_attempt_at": later, "payload": "{}", "event_id": i}
            for i, status in enumerate(["pending", "pending", "dead", "delivered"])
        ]
        c.execute(insert(outbox), [{"action_id": action_id, **row} for row in rows])
    samples = _scrape(api, key_headers("curator"))
    assert _value(samples, "safehold_outbox_deliveries", status="pending") == 2
    assert _value(samples, "safehold_outbox_deliveries", status="dead") == 1
