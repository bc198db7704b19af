"""Bank entries through the API: page, add, show, change and delete (real SQLite and
PostgreSQL through the ``api`` fixture). Curators see hash values; nobody else reaches these
routes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from safehold.api.state import ServiceState
from safehold.banks.models import Category, NewEntry

KeyHeaders = Callable[..., dict[str, str]]
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def curator(key_headers: KeyHeaders) -> dict[str, str]:
    return key_headers("curator")


def test_add_show_change_and_delete_an_entry(
    api: TestClient, curator: dict[str, str], api_state: ServiceState
) -> None:
    api_state.banks.create_bank("Known", category=Category("local", "demo"))
    body = {"signal_type": "pdq", "value": PDQ.upper(), "quality": 100, "note": "from a test"}
    made = api.post("/v1/banks/known/entries", json=body, headers=curator)
    assert made.status_code == 201, made.text
    entry = made.json()
    assert (entry["bank"], entry["value"], entry["category"], entry["quality"]) == (
        "Known",
        PDQ,
        "local:demo",
        100,
    )
    path = f"/v1/entries/{entry['id']}"
    assert api.get(path, headers=curator).json() == entry

    duplicate = api.post("/v1/banks/known/entries", json=body, headers=curator)
    assert duplicate.status_code == 409
    assert f"entry {entry['id']}" in duplicate.json()["error"]["message"]
    assert PDQ not in duplicate.text.lower()

    changed = api.patch(path, json={"category": None, "enabled": False}, headers=curator)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["category"], changed.json()["enabled"]) == (None, False)
    assert changed.json()["note"] == "from a test"  # absent fields stay
    assert api_state.banks.matchable_entries("pdq") == []
    noted = api.patch(path, json={"note": "checked", "category": "vics:1"}, headers=curator)
    assert (noted.json()["note"], noted.json()["category"]) == ("checked", "vics:1")

    assert api.delete(path, headers=curator).status_code == 204
    assert api.get(path, headers=curator).status_code == 404
    assert api.delete(path, headers=curator).status_code == 404
    assert api.patch(path, json={"note": "x"}, headers=curator).status_code == 404


def test_bad_entries_are_refused_without_echoing_values(
    api: TestClient, curator: dict[str, str], api_state: ServiceState
) -> None:
    api_state.banks.create_bank("b")
    short = PDQ[:-2]
    for body, kind in [
        ({"signal_type": "pdq", "value": short}, "invalid_signal"),
        ({"signal_type": "nosuch", "value": PDQ}, "invalid_signal"),
        ({"signal_type": "pdq", "value": PDQ, "quality": 101}, "invalid_input"),
        ({"signal_type": "pdq", "value": PDQ, "category": "x"}, "invalid_input"),
        ({"signal_type": "pdq"}, "invalid_input"),
    ]:
        answer = api.post("/v1/banks/b/entries", json=body, headers=curator)
        assert answer.status_code == 422, body
        assert answer.json()["error"]["type"] == kind, body
        assert short not in answer.text
    missing = api.post("/v1/banks/none/entries", json={"signal_type": "md5", "value": "a" * 32},
                       headers=curator)  # fmt: skip
    assert missing.status_code == 404
    assert api.get("/v1/entries/0", headers=curator).status_code == 422
    assert api.get(f"/v1/entries/{2**63}", headers=curator).status_code == 422
    assert api.get(f"/v1/entries/{2**63 - 1}", headers=curator).status_code == 404


def test_entries_page_by_id_with_their_hashes(
    api: TestClient, curator: dict[str, str], api_state: ServiceState
) -> None:
    api_state.banks.create_bank("b")
    md5s = [f"{i:032x}" for i in range(7)]
    api_state.banks.add_entries("b", [NewEntry("md5", v) for v in md5s] + [NewEntry("pdq", PDQ)])
    seen: list[str] = []
    after = 0
    pages = 0
    while True:
        answer = api.get(f"/v1/banks/B/entries?limit=3&after_id={after}", headers=curator)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [e["value"] for e in page["entries"]]
        pages += 1
        if page["next_after_id"] is None:
            break
        after = page["next_after_id"]
    assert seen == [*md5s, PDQ]
    assert pages == 3
    only = api.get("/v1/banks/b/entries?signal_type=pdq", headers=curator).json()
    assert [e["value"] for e in only["entries"]] == [PDQ]
    assert only["next_after_id"] is None
    bad = api.get("/v1/banks/b/entries?signal_type=nope", headers=curator)
    assert bad.status_code == 422
    assert api.get("/v1/banks/b/entries?limit=0", headers=curator).status_code == 422
    assert api.get("/v1/banks/none/entries", headers=curator).status_code == 404
    assert api.get("/v1/banks/b/entries", headers={}).status_code == 401


def test_bulk_delete_only_touches_the_named_bank(
    api: TestClient, curator: dict[str, str], api_state: ServiceState
) -> None:
    api_state.banks.create_bank("a")
    api_state.banks.create_bank("other")
    api_state.banks.add_entries("a", [NewEntry("md5", f"{i:032x}") for i in range(5)])
    ids = [e.id for e in api_state.banks.iter_entries("a")]
    stranger = api_state.banks.add_entry("other", NewEntry("md5", "f" * 32)).id
    answer = api.post(
        "/v1/banks/a/entries/delete", json={"ids": [*ids[:3], stranger, 10**9]}, headers=curator
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted": 3}
    assert [e.id for e in api_state.banks.iter_entries("a")] == ids[3:]
    assert api_state.banks.get_entry(stranger).bank_name == "other"
    too_many = api.post(
        "/v1/banks/a/entries/delete", json={"ids": list(range(1, 10_002))}, headers=curator
    )
    assert too_many.status_code == 422
