"""``POST /v1/urls/check`` on SQLite and PostgreSQL: shapes per key, per-URL errors, match
events, freshness, and URLs kept out of the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from safehold.api.state import ServiceState
from safehold.banks.models import NewEntry

Headers = Callable[[str], dict[str, str]]
CHECK = "/v1/urls/check"


def test_trusted_answer(url_api: TestClient, headers: Headers) -> None:
    body = {"urls": ["http://www.example.com/bad/page.html?x=1", "ftp://example.com/", "x.org"]}
    answer = url_api.post(CHECK, json=body, headers=headers("matcher"))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert isinstance(found["change_seq"], int)
    assert found["results"] == [
        {
            "canonical": "http://www.example.com/bad/page.html?x=1",
            "match": True,
            "action": "review",
            "matches": [
                {
                    "bank": "urls",
                    "entry_id": 1,
                    "kind": "path_prefix",
                    "list_version": "2026-11-30",
                    "category": None,
                }
            ],
        },
        {
            "error": {
                "type": "invalid_signal",
                "message": "only http and https URLs can be listed and checked",
            }
        },
        {"canonical": "http://x.org/", "match": False, "action": "none", "matches": []},
    ]


def test_client_answer(url_api: TestClient, headers: Headers, url_state: ServiceState) -> None:
    url_state.banks.update_bank("urls", match_action="block")
    url_state.matcher.refresh()
    body = {"urls": ["https://host.example/a", "http://example.org/"], "content_ref": "post-9"}
    answer = url_api.post(CHECK, json=body, headers=headers("client"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "results": [{"match": True, "action": "block"}, {"match": False, "action": "none"}]
    }
    events = url_state.actions.list_events(after_id=0, limit=10)
    assert [(e.entry_id, e.content_ref, e.origin) for e in events] == [(4, "post-9", "api")]
    named = url_api.post(CHECK, json=body | {"banks": ["urls"]}, headers=headers("client"))
    assert named.status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"urls": []}, 422),
        ({"urls": ["example.com/"] * 101}, 422),
        ({"urls": ["example.com/"], "banks": ["missing"]}, 404),
        ({"urls": ["example.com/"], "extra": 1}, 422),
    ],
)
def test_refusals(
    url_api: TestClient, headers: Headers, body: dict[str, object], status: int
) -> None:
    answer = url_api.post(CHECK, json=body, headers=headers("admin"))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["type"]


def test_curators_and_anonymous_are_refused(url_api: TestClient, headers: Headers) -> None:
    body = {"urls": ["example.com/"]}
    assert url_api.post(CHECK, json=body, headers=headers("curator")).status_code == 403
    assert url_api.post(CHECK, json=body).status_code == 401


def test_new_entry_is_matched_at_once(
    url_api: TestClient, headers: Headers, url_state: ServiceState
) -> None:
    body = {"urls": ["http://fresh.example.org/page"]}
    key = headers("matcher")
    assert url_api.post(CHECK, json=body, headers=key).json()["results"][0]["match"] is False
    url_state.banks.add_entries("urls", [NewEntry("url", "fresh.example.org/page")])
    result = url_api.post(CHECK, json=body, headers=key).json()["results"][0]
    assert [(m["kind"], m["list_version"]) for m in result["matches"]] == [("exact_path", None)]


def test_match_by_value_route(url_api: TestClient, headers: Headers) -> None:
    body = {"signal_type": "url", "value": "https://a.www.example.com/bad/deeper/x.jpg"}
    answer = url_api.post("/v1/match", json=body, headers=headers("matcher")).json()
    assert answer["match"] is True
    assert [(m["bank"], m["variant"]) for m in answer["matches"]] == [("urls", "path_prefix")]


def test_urls_are_not_logged(
    url_api: TestClient, headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_path = "/private-listed-path-4821/"
    body = {"urls": [f"http://www.example.com/bad{secret_path}", "http://[bad"]}
    assert url_api.post(CHECK, json=body, headers=headers("matcher")).status_code == 200
    assert caplog.records  # the access log and others did log
    assert not [
        r for r in caplog.records if "4821" in r.getMessage() or "example" in r.getMessage()
    ]
