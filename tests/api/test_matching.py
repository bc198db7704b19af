"""Hashing and matching routes: trusted and client answers, batches, uploads and URLs, match
events, and refusals (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safehold.api.state import ServiceState
from safehold.banks.models import Category, NewEntry

KeyHeaders = Callable[..., dict[str, str]]

# The bridge's reference PDQ (Meta's Java test value, quoted in shared/data/README.md).
BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
FAR = "0" * 64  # about 128 bits from BRIDGE


def _expected(shared_data: Path) -> dict[str, dict[str, str]]:
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


def _bank(state: ServiceState, name: str, *values: str, signal_type: str = "pdq") -> list[int]:
    """A bank holding ``values``, applied to the app's matcher; returns the entry ids."""
    state.banks.create_bank(name, source="test")
    state.banks.add_entries(
        name, [NewEntry(signal_type, v, category=Category("local", name)) for v in values]
    )
    state.matcher.refresh()
    return [e.id for e in state.banks.iter_entries(name)]


def _upload(path: Path) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (path.name, path.read_bytes(), "application/octet-stream")}


def test_trusted_match_is_detailed_and_recorded(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    (entry,) = _bank(api_state, "known", BRIDGE)
    headers = key_headers("matcher")
    body = {"signal_type": "pdq", "value": BRIDGE, "content_ref": "upload-17"}
    answer = api.post("/v1/match", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "match": True,
        "action": "review",
        "matches": [
            {
                "bank": "known",
                "entry_id": entry,
                "signal_type": "pdq",
                "distance": 0,
                "category": "local:known",
                "variant": None,
            }
        ],
        "change_seq": api_state.banks.change_sequence(),
    }
    (event,) = api_state.actions.list_events()
    assert (event.entry_id, event.content_ref, event.origin) == (entry, "upload-17", "api")
    assert event.api_key_id is not None
    miss = api.post("/v1/match", json={"signal_type": "pdq", "value": FAR}, headers=headers)
    assert miss.json()["match"] is False
    assert miss.json()["action"] == "none"
    assert len(api_state.actions.list_events()) == 1  # a miss records nothing


def test_client_gets_the_decision_only(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    _bank(api_state, "secret-list", BRIDGE)
    api_state.banks.update_bank("secret-list", match_action="block")
    api_state.matcher.refresh()
    client = key_headers("client")
    answer = api.post("/v1/match", json={"signal_type": "pdq", "value": BRIDGE}, headers=client)
    assert answer.status_code == 200
    assert answer.json() == {"match": True, "action": "block"}
    assert "secret-list" not in answer.text
    assert len(api_state.actions.list_events()) == 1  # recorded all the same
    named = {"signal_type": "pdq", "value": BRIDGE, "banks": ["secret-list"]}
    assert api.post("/v1/match", json=named, headers=client).status_code == 403


def test_bad_hashes_are_refused_without_echo(api: TestClient, key_headers: KeyHeaders) -> None:
    headers = key_headers("matcher")
    bad = BRIDGE[:-1] + "z"
    answer = api.post("/v1/match", json={"signal_type": "pdq", "value": bad}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "invalid_signal"
    assert bad[:40] not in answer.text
    unknown = api.post("/v1/match", json={"signal_type": "tmk", "value": "ab"}, headers=headers)
    assert unknown.status_code == 422
    assert "unknown signal type" in unknown.json()["error"]["message"]
    nobank = {"signal_type": "pdq", "value": BRIDGE, "banks": ["nope"]}
    assert api.post("/v1/match", json=nobank, headers=headers).status_code == 404


def test_non_hex_hashes_are_told_so(api: TestClient, key_headers: KeyHeaders) -> None:
    """The user test's values, each of the right length: the reason is the characters."""
    headers = key_headers("matcher")
    md5 = "d35c785545392755e7e4164457657269"
    cases = [
        ("pdq", BRIDGE[:-2] + "\u0662\u0662"),  # Arabic-Indic digits
        ("md5", md5[:-1] + "\uff19"),  # a fullwidth digit
        ("md5", md5[:-1] + "\u0000"),
        ("pdq", "0x" + BRIDGE[:-2]),
    ]
    for signal_type, value in cases:
        answer = api.post(
            "/v1/match", json={"signal_type": signal_type, "value": value}, headers=headers
        )
        assert answer.status_code == 422, (signal_type, answer.text)
        error = answer.json()["error"]
        assert error["type"] == "invalid_signal"
        assert "contains characters that are not hexadecimal digits" in error["message"]
        assert "details" not in error
    prefixed = api.post(
        "/v1/match", json={"signal_type": "pdq", "value": "0x" + BRIDGE[:-2]}, headers=headers
    )
    assert prefixed.json()["error"]["message"].endswith("(drop the 0x prefix)")


def test_batch_answers_every_item(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    (entry,) = _bank(api_state, "known", BRIDGE)
    md5 = "d35c785545392755e7e4164457657269"
    _bank(api_state, "exact", md5, signal_type="md5")
    items = [
        {"signal_type": "pdq", "value": BRIDGE},
        {"signal_type": "pdq", "value": FAR},
        {"signal_type": "pdq", "value": "nothex"},
        {"signal_type": "md5", "value": md5.upper()},
    ]
    trusted = api.post("/v1/match/batch", json={"items": items}, headers=key_headers("matcher"))
    assert trusted.status_code == 200, trusted.text
    first, second, third, fourth = trusted.json()["results"]
    assert [m["entry_id"] for m in first["matches"]] == [entry]
    assert (second["match"], second["matches"]) == (False, [])
    assert third["error"] == {  # no "details": null (user test finding 8)
        "type": "invalid_signal",
        "message": "a pdq hash contains characters that are not hexadecimal digits (0-9, a-f)",
    }
    assert fourth["matches"][0]["signal_type"] == "md5"
    client = api.post("/v1/match/batch", json={"items": items}, headers=key_headers("client"))
    assert client.json()["results"] == [
        {"match": True, "action": "review"},
        {"match": False, "action": "none"},
        {"error": third["error"]},
        {"match": True, "action": "review"},
    ]
    too_many = {"items": [items[0]] * 101}
    refused = api.post("/v1/match/batch", json=too_many, headers=key_headers("matcher"))
    assert refused.status_code == 422


def test_hash_an_upload(api: TestClient, key_headers: KeyHeaders, shared_data: Path) -> None:
    path = shared_data / "reference" / "images" / "bridge-mods" / "aaa-orig.jpg"
    expected = _expected(shared_data)["aaa-orig.jpg"]
    answer = api.post("/v1/hash", files=_upload(path), headers=key_headers("client"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["content_type"], body["size"], body["error"]) == (
        "photo",
        path.stat().st_size,
        None,
    )
    assert body["signals"]["md5"] == {"value": expected["md5"], "quality": None}
    assert body["signals"]["sha256"]["value"] == expected["sha256"]
    assert body["signals"]["pdq"]["quality"] == 100
    only = api.post(
        "/v1/hash",
        files=_upload(path),
        data={"signal_types": "md5"},
        headers=key_headers("matcher"),
    )
    assert sorted(only.json()["signals"]) == ["md5"]


@pytest.mark.usefixtures("loopback_fetching")
def test_hash_and_match_a_url(
    api: TestClient,
    api_state: ServiceState,
    key_headers: KeyHeaders,
    shared_data: Path,
    media_server: str,
) -> None:
    (entry,) = _bank(api_state, "bridge", _expected(shared_data)["aaa-orig.jpg"]["pdq"])
    url = f"{media_server}/images/bridge-mods/blur-a-lot.jpg"
    body = {"url": url, "content_ref": "post-9"}
    trusted = api.post("/v1/hash-and-match", json=body, headers=key_headers("matcher"))
    assert trusted.status_code == 200, trusted.text
    result = trusted.json()
    assert result["match"] is True
    assert [(m["bank"], m["entry_id"]) for m in result["matches"]] == [("bridge", entry)]
    assert result["matches"][0]["distance"] <= 31
    assert result["content_type"] == "photo"
    client = api.post("/v1/hash-and-match", json=body, headers=key_headers("client")).json()
    assert sorted(client) == ["action", "content_type", "error", "match", "signals", "size"]
    assert (client["match"], client["action"]) == (True, "review")
    assert [e.content_ref for e in api_state.actions.list_events()] == ["post-9", "post-9"]
    negative = f"{media_server}/images/reg-test-input/pen-and-coaster.png"
    miss = api.post("/v1/hash-and-match", json={"url": negative}, headers=key_headers("client"))
    assert (miss.json()["match"], miss.json()["action"]) == (False, "none")


def test_hash_and_match_an_upload(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, shared_data: Path
) -> None:
    path = shared_data / "reference" / "images" / "reg-test-input" / "pen-and-coaster.png"
    (entry,) = _bank(
        api_state, "exact", _expected(shared_data)[path.name]["md5"], signal_type="md5"
    )
    answer = api.post(
        "/v1/hash-and-match",
        files=_upload(path),
        data={"content_ref": "u1", "banks": "exact"},
        headers=key_headers("matcher"),
    )
    assert answer.status_code == 200, answer.text
    assert [(m["entry_id"], m["distance"]) for m in answer.json()["matches"]] == [(entry, 0)]


def test_content_refusals(
    api: TestClient, key_headers: KeyHeaders, shared_data: Path, media_server: str
) -> None:
    headers = key_headers("matcher")
    text = {"file": ("a.txt", b"plain text, not an image", "text/plain")}
    assert api.post("/v1/hash", files=text, headers=headers).status_code == 415
    empty = api.post("/v1/hash", files={"file": ("e", b"", "image/png")}, headers=headers)
    assert (empty.status_code, empty.json()["error"]["type"]) == (422, "empty")
    misnamed = {"photo": ("a.png", b"x", "image/png")}
    nofile = api.post("/v1/hash", files=misnamed, headers=headers)
    assert (nofile.status_code, nofile.json()["error"]["type"]) == (422, "invalid_input")
    form = api.post("/v1/hash", data={"content_ref": "x"}, headers=headers)
    assert form.status_code == 415  # a plain form carries no file
    other = api.post("/v1/hash", content=b"raw", headers={**headers, "content-type": "image/png"})
    assert other.status_code == 415
    # the default policy refuses loopback addresses
    unsafe = api.post("/v1/hash", json={"url": f"{media_server}/x.jpg"}, headers=headers)
    assert (unsafe.status_code, unsafe.json()["error"]["type"]) == (422, "unsafe_url")
    extra = api.post("/v1/hash", json={"url": "https://example.org/", "x": 1}, headers=headers)
    assert extra.status_code == 422
    corrupt = shared_data / "pngsuite" / "png" / "xcsn0g01.png"
    partial = api.post("/v1/hash", files=_upload(corrupt), headers=headers).json()
    assert sorted(partial["signals"]) == ["md5", "sha1", "sha256"]
    assert partial["error"]["type"] == "corrupt"


def test_upload_bound(limited_api: TestClient, shared_data: Path) -> None:
    state: ServiceState = limited_api.app.state.safehold  # type: ignore[attr-defined]
    secret = state.keys.create_key("m", ["matcher"]).secret
    path = shared_data / "reference" / "images" / "bridge-mods" / "aaa-orig.jpg"
    answer = limited_api.post(
        "/v1/hash", files=_upload(path), headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 413


def test_openapi_documents_both_answers(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    schema = spec["paths"]["/v1/match"]["post"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in schema["anyOf"]}
    assert refs == {"MatchResult", "ClientMatchResult"}
    client = spec["components"]["schemas"]["ClientMatchResult"]
    assert sorted(client["properties"]) == ["action", "match"]
    body = spec["paths"]["/v1/hash-and-match"]["post"]["requestBody"]["content"]
    assert sorted(body) == ["application/json", "multipart/form-data"]
