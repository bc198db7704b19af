"""The HMA 2.x compatible routes, driven with the requests HMA's own tests and clients send
(``hasher-matcher-actioner/src/OpenMediaMatch/tests/`` in facebook/ThreatExchange: paths,
query parameters, JSON bodies, multipart field names), plus an API key.

Banks are built through these routes by hashing the benign bridge photo of
``shared/data/reference``; its edits (blur, shrink, sharpen) must match it by PDQ. Expected
hashes come from ``images/expected-hashes.csv`` (the C++ reference PDQ; MD5/SHA-256 of the
files), never from Safehold's own output; PDQ implementations differ by a few bits, so PDQ
values are compared within :data:`PDQ_TOLERANCE` bits.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safehold.api.state import ServiceState

KeyHeaders = Callable[..., dict[str, str]]

ORIGINAL = "images/bridge-mods/aaa-orig.jpg"
NEGATIVE = "images/reg-test-input/pen-and-coaster.png"
PDQ_TOLERANCE = 4  # bits between Safehold's PDQ and the C++ reference on the same file

# HMA's own /m/compare specimens and the distance its test expects (test_api.py).
SPECIMEN_1 = "facd8bcb2a49bcebdec1985298d5fe84bcd006c187c598c720c3c087b3fdb318"
SPECIMEN_2 = "facd8bcb2a49bcebdec1985228d5ae84bcd006c187c598c720c2b087b3fdb318"

pytestmark = pytest.mark.usefixtures("loopback_fetching")


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes (independent of Safehold's code)."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def reference(shared_data: Path) -> dict[str, dict[str, str]]:
    """``images/expected-hashes.csv`` by path."""
    with (shared_data / "reference/images/expected-hashes.csv").open() as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def create_bank(api: TestClient, headers: dict[str, str], name: str) -> None:
    """HMA's ``tests/utils.create_bank``."""
    response = api.post("/c/banks", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {"matching_enabled_ratio": 1.0, "name": name}


def add_url(api: TestClient, headers: dict[str, str], bank: str, url: str) -> dict[str, object]:
    """HMA's ``tests/utils.add_hash_to_bank``: add by URL with ``content_type=photo``."""
    response = api.post(f"/c/bank/{bank}/content?url={url}&content_type=photo", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def caught_up(state: ServiceState) -> None:
    """Apply the bank changes to this worker's index now (instead of waiting for a poll)."""
    state.matcher.refresh()


def test_status_needs_no_key(api: TestClient) -> None:
    response = api.get("/status")
    assert response.status_code == 200
    assert response.text == "I-AM-ALIVE"


def test_banks_as_hma_manages_them(api: TestClient, key_headers: KeyHeaders) -> None:
    curator = key_headers("curator")
    assert api.get("/c/banks", headers=curator).json() == []
    create_bank(api, curator, "MY_TEST_BANK_01")
    assert api.get("/c/banks", headers=curator).json() == [
        {"name": "MY_TEST_BANK_01", "matching_enabled_ratio": 1.0}
    ]
    assert (
        api.post("/c/banks", json={"name": "MY_TEST_BANK_01"}, headers=curator).status_code == 409
    )
    disabled = api.put("/c/bank/MY_TEST_BANK_01", json={"enabled": False}, headers=curator)
    assert disabled.status_code == 200
    assert disabled.json()["matching_enabled_ratio"] == 0
    enabled = api.put("/c/bank/MY_TEST_BANK_01", json={"enabled_ratio": 1.0}, headers=curator)
    assert enabled.json() == {"name": "MY_TEST_BANK_01", "matching_enabled_ratio": 1.0}
    for refused in ({"enabled_ratio": 0.5}, {"name": "MY_TEST_BANK_RENAMED"}):
        response = api.put("/c/bank/MY_TEST_BANK_01", json=refused, headers=curator)
        assert response.status_code == 422, refused
        assert "not supported" in response.json()["error"]["message"]
    # A name differing only in case is the same bank, not a rename.
    same = api.put("/c/bank/MY_TEST_BANK_01", json={"name": "my_test_bank_01"}, headers=curator)
    assert same.status_code == 200, same.text
    # A refused creation changes nothing (it used to create the bank, then refuse).
    half = api.post("/c/banks", json={"name": "HALF", "enabled_ratio": 0.5}, headers=curator)
    assert half.status_code == 422
    assert api.get("/c/bank/HALF", headers=curator).status_code == 404
    create_bank(api, curator, "OFF_BANK")
    off = api.post("/c/banks", json={"name": "OFF_2", "enabled_ratio": 0.0}, headers=curator)
    assert off.json() == {"name": "OFF_2", "matching_enabled_ratio": 0.0}
    assert api.get("/c/bank/my_test_bank_01", headers=curator).json()["name"] == "MY_TEST_BANK_01"
    assert api.delete("/c/bank/MY_TEST_BANK_01", headers=curator).json() == {"message": "Done"}
    again = api.delete("/c/bank/MY_TEST_BANK_01", headers=curator)  # HMA: still succeeds
    assert again.status_code == 200
    assert api.get("/c/bank/MY_TEST_BANK_01", headers=curator).status_code == 404


def test_hash_by_url_and_upload(
    api: TestClient, key_headers: KeyHeaders, media_server: str, shared_data: Path
) -> None:
    expected = reference(shared_data)[ORIGINAL]
    headers = key_headers("client")
    by_url = api.get(f"/h/hash?url={media_server}/{ORIGINAL}", headers=headers)
    assert by_url.status_code == 200, by_url.text
    hashes = by_url.json()
    assert set(hashes) == {"pdq", "md5", "sha1", "sha256"}
    assert hashes["md5"] == expected["md5"]
    assert hashes["sha256"] == expected["sha256"]
    original = (shared_data / "reference" / ORIGINAL).read_bytes()
    assert hashes["sha1"] == hashlib.sha1(original).hexdigest()  # the standard library's SHA-1
    assert hamming(hashes["pdq"], expected["pdq"]) <= PDQ_TOLERANCE
    only = api.get(f"/h/hash?url={media_server}/{ORIGINAL}&types=pdq", headers=headers)
    assert only.json() == {"pdq": hashes["pdq"]}
    data = (shared_data / "reference" / ORIGINAL).read_bytes()
    upload = api.post("/h/hash", files={"photo": ("x.jpg", data, "image/jpeg")}, headers=headers)
    assert upload.json() == hashes
    as_video = api.get(f"/h/hash?url={media_server}/{ORIGINAL}&content_type=video", headers=headers)
    assert as_video.status_code == 415
    wrong_field = api.post("/h/hash", files={"file": ("x.jpg", data)}, headers=headers)
    assert wrong_field.status_code == 422
    two = [("photo", ("a.jpg", data)), ("photo", ("b.jpg", data))]
    assert api.post("/h/hash", files=two, headers=headers).status_code == 422
    assert api.get(f"/h/hash?url={media_server}/{ORIGINAL}").status_code == 401


def test_near_duplicate_matches_bank_built_from_url(
    api: TestClient,
    api_state: ServiceState,
    key_headers: KeyHeaders,
    media_server: str,
    shared_data: Path,
) -> None:
    ref = reference(shared_data)
    curator, matcher = key_headers("curator"), key_headers("matcher")
    create_bank(api, curator, "TEST_BANK")
    added = add_url(api, curator, "TEST_BANK", f"{media_server}/{ORIGINAL}")
    signals, ids = added["signals"], added["entry_ids"]
    assert isinstance(signals, dict)
    assert isinstance(ids, dict)
    assert set(signals) == {"pdq", "md5", "sha1", "sha256"}
    assert signals["md5"] == ref[ORIGINAL]["md5"]
    assert hamming(signals["pdq"], ref[ORIGINAL]["pdq"]) <= PDQ_TOLERANCE
    assert added["id"] == min(ids.values())
    add_url(api, curator, "TEST_BANK", f"{media_server}/{NEGATIVE}")
    caught_up(api_state)

    # A near-duplicate fetched by URL matches by PDQ only (the file differs).
    edit = "images/bridge-mods/blur-a-little.jpg"
    found = api.get(f"/m/lookup?url={media_server}/{edit}&seed=upload-42", headers=matcher)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["md5"] == {}
    assert body["sha256"] == {}
    [match] = body["pdq"]["TEST_BANK"]
    assert match["bank_content_id"] == ids["pdq"]
    assert abs(int(match["distance"]) - hamming(ref[edit]["pdq"], ref[ORIGINAL]["pdq"])) <= 4

    # The reference hash of a stronger edit, looked up as a signal.
    shrunk = ref["images/bridge-mods/shrink-a-lot.jpg"]["pdq"]
    bits = hamming(shrunk, str(signals["pdq"]))
    assert bits <= 31
    raw = api.get(f"/m/raw_lookup?signal_type=pdq&signal={shrunk}", headers=matcher)
    assert raw.json() == {"matches": [ids["pdq"]]}
    params = {"signal_type": "pdq", "signal": shrunk, "include_distance": "true"}
    with_distance = api.get("/m/raw_lookup", params=params, headers=matcher)
    assert with_distance.json() == {
        "matches": [{"bank_content_id": ids["pdq"], "distance": str(bits)}]
    }
    by_signal = api.get(f"/m/lookup?signal_type=pdq&signal={shrunk}", headers=matcher)
    assert by_signal.json() == {
        "TEST_BANK": [{"bank_content_id": ids["pdq"], "distance": str(bits)}]
    }
    exact = api.get(
        f"/m/lookup?signal_type=video_md5&signal={ref[ORIGINAL]['md5']}", headers=matcher
    )
    assert exact.json() == {"TEST_BANK": [{"bank_content_id": ids["md5"], "distance": "0"}]}
    unrelated = ref["images/reg-test-input/labelme-subset/q0003.jpg"]["pdq"]
    assert api.get(f"/m/lookup?signal_type=pdq&signal={unrelated}", headers=matcher).json() == {}

    # Uploaded as HMA's POST /m/lookup form (field "photo").
    data = (shared_data / "reference/images/bridge-mods/sharpen-a-lot.jpg").read_bytes()
    upload = api.post("/m/lookup", files={"photo": ("s.jpg", data, "image/jpeg")}, headers=matcher)
    assert [m["bank_content_id"] for m in upload.json()["pdq"]["TEST_BANK"]] == [ids["pdq"]]

    events = api_state.actions.list_events()
    assert {e.origin for e in events} == {"hma"}
    assert events[0].content_ref == "upload-42"
    assert {e.entry_id for e in events} == {ids["pdq"], ids["md5"]}


def test_client_key_gets_only_the_decision(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, shared_data: Path
) -> None:
    ref = reference(shared_data)
    curator, client = key_headers("curator"), key_headers("client")
    create_bank(api, curator, "SECRET_BANK")
    api.post("/c/bank/SECRET_BANK/signal", json={"pdq": ref[ORIGINAL]["pdq"]}, headers=curator)
    caught_up(api_state)
    query = {"signal_type": "pdq", "signal": ref["images/bridge-mods/blur-a-lot.jpg"]["pdq"]}
    for path in ("/m/lookup", "/m/raw_lookup"):
        response = api.get(path, params=query, headers=client)
        assert response.json() == {"match": True, "action": "review"}, path
        assert "SECRET_BANK" not in response.text
    miss = {"signal_type": "pdq", "signal": ref[NEGATIVE]["pdq"]}
    assert api.get("/m/lookup", params=miss, headers=client).json() == {
        "match": False,
        "action": "none",
    }
    data = (shared_data / "reference/images/bridge-mods/high-contrast.jpg").read_bytes()
    upload = api.post("/m/lookup", files={"photo": ("h.jpg", data)}, headers=client)
    assert upload.json() == {"match": True, "action": "review"}
    probing = api.get("/m/lookup", params={**query, "banks": "SECRET_BANK"}, headers=client)
    assert probing.status_code == 403
    for path in ("/c/banks", "/m/index/status", "/c/signal_type"):
        assert api.get(path, headers=client).status_code == 403, path


def test_bank_filter(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, shared_data: Path
) -> None:
    # HMA's test_match_api: the same hash in three banks, lookups restricted by ``banks``.
    pdq = reference(shared_data)[ORIGINAL]["pdq"]
    curator, matcher = key_headers("curator"), key_headers("matcher")
    for bank in ("BANK_A", "BANK_B", "BANK_C"):
        create_bank(api, curator, bank)
        api.post(f"/c/bank/{bank}/signal", json={"pdq": pdq}, headers=curator)
    caught_up(api_state)
    query = {"signal": pdq, "signal_type": "pdq"}
    expected = {None: 3, "BANK_A": 1, "BANK_A,BANK_B": 2, "NON_EXISTENT_BANK": 0}
    for banks, count in expected.items():
        params = query if banks is None else {**query, "banks": banks}
        raw = api.get("/m/raw_lookup", params=params, headers=matcher).json()
        assert len(raw["matches"]) == count, banks
        by_bank = api.get("/m/lookup", params=params, headers=matcher).json()
        assert len(by_bank) == count, banks
    both = api.get("/m/lookup", params={**query, "banks": "BANK_A,BANK_C"}, headers=matcher)
    assert set(both.json()) == {"BANK_A", "BANK_C"}


def test_content_show_disable_delete(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, shared_data: Path
) -> None:
    pdq = reference(shared_data)[ORIGINAL]["pdq"]
    curator, matcher = key_headers("curator"), key_headers("matcher")
    create_bank(api, curator, "TEST_BANK_GET")
    create_bank(api, curator, "OTHER_BANK")
    added = api.post("/c/bank/TEST_BANK_GET/signal", json={"pdq": pdq}, headers=curator).json()
    content_id = added["id"]
    assert added["signals"] == {"pdq": pdq}
    path = f"/c/bank/TEST_BANK_GET/content/{content_id}"
    shown = api.get(path, headers=curator).json()
    assert shown == {
        "id": content_id,
        "disable_until_ts": 1,
        "collab_metadata": {},
        "original_media_uri": None,
        "bank": {"name": "TEST_BANK_GET", "matching_enabled_ratio": 1.0},
    }
    assert api.get(f"{path}?include_signals=true", headers=curator).json()["signals"] == {
        "pdq": pdq
    }
    assert api.get(f"{path}?signal_type=pdq", headers=curator).json()["signals"] == {"pdq": pdq}
    assert api.get(f"{path}?signal_type=video_md5", headers=curator).json()["signals"] == {}
    assert api.get(f"{path}?signal_type=invalid", headers=curator).status_code == 422
    elsewhere = f"/c/bank/OTHER_BANK/content/{content_id}"
    assert api.get(elsewhere, headers=curator).status_code == 404
    assert api.get("/c/bank/NO_BANK/content/1", headers=curator).status_code == 404

    lookup = {"signal_type": "pdq", "signal": pdq}
    off = api.put(path, json={"disable_until_ts": 0}, headers=curator)
    assert off.json()["disable_until_ts"] == 0
    caught_up(api_state)
    assert api.get("/m/raw_lookup", params=lookup, headers=matcher).json() == {"matches": []}
    past = int(time.time()) - 60
    assert (
        api.put(path, json={"disable_until_ts": past}, headers=curator).json()["disable_until_ts"]
        == 1
    )
    caught_up(api_state)
    assert api.get("/m/raw_lookup", params=lookup, headers=matcher).json() == {
        "matches": [content_id]
    }
    future = int(time.time()) + 365 * 86400
    assert api.put(path, json={"disable_until_ts": future}, headers=curator).status_code == 422

    assert api.delete(elsewhere, headers=curator).json() == {"deleted": 0}
    assert api.delete(path, headers=curator).json() == {"deleted": 1}
    assert api.delete(path, headers=curator).json() == {"deleted": 0}
    assert api.get(path, headers=curator).status_code == 404
    caught_up(api_state)
    assert api.get("/m/raw_lookup", params=lookup, headers=matcher).json() == {"matches": []}


def test_add_signals_then_index_status(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, shared_data: Path
) -> None:
    # HMA's test_e2e_workflow: add hashes one by one, check the index, look the last one up.
    ref = reference(shared_data)
    hashes = sorted({row["pdq"] for path, row in ref.items() if "labelme-subset" in path})
    curator, matcher = key_headers("curator"), key_headers("matcher")
    create_bank(api, curator, "TEST_BANK")
    ids = []
    for pdq in hashes:
        response = api.post("/c/bank/TEST_BANK/signal", json={"pdq": pdq}, headers=curator)
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    again = api.post("/c/bank/TEST_BANK/signal", json={"pdq": hashes[0]}, headers=curator)
    assert again.json()["id"] == ids[0]  # already held: the existing entry
    caught_up(api_state)
    status = api.get("/m/index/status?signal_type=pdq", headers=matcher).json()
    assert status["pdq"]["present"] is True
    assert status["pdq"]["size"] == len(hashes)
    assert status["pdq"]["built_to"] == api_state.banks.change_sequence()
    built = api.get("/c/signal_type/index?signal_type=pdq", headers=curator).json()["pdq"]
    assert built["db_size"] == built["index_size"] == len(hashes)
    assert built["index_out_of_date"] is False
    last = api.get(f"/m/lookup?signal_type=pdq&signal={hashes[-1]}", headers=matcher).json()
    assert {"bank_content_id": ids[-1], "distance": "0"} in last["TEST_BANK"]
    for bad in ({"pdq": "banana"}, {"nosuch": hashes[0]}, {}):
        response = api.post("/c/bank/TEST_BANK/signal", json=bad, headers=curator)
        assert response.status_code == 422, bad
        assert "banana" not in response.text
    assert (
        api.post("/c/bank/NO_BANK/signal", json={"pdq": hashes[0]}, headers=curator).status_code
        == 404
    )


def test_exact_type_index_state_agrees_with_itself(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    # User test finding 13: md5 showed db_size 11, index_size 10 and index_out_of_date false
    # (the worker's own count of exact entries lags up to a minute).
    curator = key_headers("curator")
    create_bank(api, curator, "EXACT")
    values = [f"{n:032x}" for n in range(1, 12)]
    for value in values[:10]:
        assert api.post("/c/bank/EXACT/signal", json={"md5": value}, headers=curator).is_success
    caught_up(api_state)
    first = api.get("/c/signal_type/index?signal_type=md5", headers=curator).json()["md5"]
    assert (first["db_size"], first["index_size"], first["index_out_of_date"]) == (10, 10, False)
    assert api.post("/c/bank/EXACT/signal", json={"md5": values[10]}, headers=curator).is_success
    caught_up(api_state)
    state = api.get("/c/signal_type/index?signal_type=md5", headers=curator).json()["md5"]
    assert (state["db_size"], state["index_size"], state["index_out_of_date"]) == (11, 11, False)
    assert state["index_built_to"] == state["newest_db_item"]


def test_content_metadata(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders, media_server: str
) -> None:
    # HMA's test_banks_add_metadata.
    curator = key_headers("curator")
    create_bank(api, curator, "NEW_BANK")
    url = f"/c/bank/NEW_BANK/content?url={media_server}/{ORIGINAL}&content_type=photo"
    bad = api.post(url, json={"metadata": {"invalid_metadata": 5}}, headers=curator)
    assert bad.status_code == 422
    metadata = {"content_id": "1197433091", "json": {"asdf": {}}}
    good = api.post(url, json={"metadata": metadata}, headers=curator)
    assert good.status_code == 200, good.text
    note = api_state.banks.get_entry(good.json()["id"]).note
    assert json.loads(note) == metadata
    nothing = api.post("/c/bank/NEW_BANK/content", headers=curator)
    assert nothing.status_code == 422


def test_compare(api: TestClient, key_headers: KeyHeaders) -> None:
    # HMA's test_compare_hashes, with its expected distance.
    headers = key_headers("client")
    response = api.post("/m/compare", json={"pdq": [SPECIMEN_1, SPECIMEN_2]}, headers=headers)
    assert response.json() == {"pdq": [True, {"distance": 9}]}
    bad_inputs: list[object] = [
        ["banana"],
        {"pdq": "banana"},
        {"pdq": []},
        {"pdq": ["banana", "banana"]},
        {"pdq": [SPECIMEN_1, SPECIMEN_2, SPECIMEN_1]},
    ]
    for bad in bad_inputs:
        assert api.post("/m/compare", json=bad, headers=headers).status_code == 422, bad


def test_compare_vpdq(api: TestClient, key_headers: KeyHeaders, shared_data: Path) -> None:
    # The reference vPDQ hashes of two versions of the chair clip, and of another clip.
    folder = shared_data / "reference/videos/vpdq-hashes"
    grey, sepia, doorknob = (
        (folder / f"{name}.txt").read_text()
        for name in ("chair-22-sd-grey-bar", "chair-22-sd-sepia-bar", "doorknob-hd-no-bar")
    )
    headers = key_headers("matcher")
    same = api.post("/m/compare", json={"vpdq": [grey, sepia]}, headers=headers)
    assert same.json() == {
        "vpdq": [True, {"query_match_percent": 100.0, "compared_match_percent": 100.0}]
    }
    other = api.post("/m/compare", json={"vpdq": [grey, doorknob]}, headers=headers)
    assert other.json()["vpdq"][0] is False
    md5 = "d35c785545392755e7e4164457657269"
    exact = api.post("/m/compare", json={"video_md5": [md5, md5]}, headers=headers)
    assert exact.json() == {"video_md5": [True, {"distance": 0}]}


def test_configuration_lists(api: TestClient, key_headers: KeyHeaders) -> None:
    curator = key_headers("curator")
    assert api.get("/c/signal_type", headers=curator).json() == [
        {"name": name, "enabled_ratio": 1.0}
        for name in ("md5", "pdq", "sha1", "sha256", "url", "vpdq")
    ]
    assert api.get("/c/content_type", headers=curator).json() == [
        {"name": "photo", "enabled": True},
        {"name": "video", "enabled": True},
    ]


def test_private_urls_are_refused(api: TestClient, key_headers: KeyHeaders) -> None:
    # Loopback is allowed for these tests (loopback_fetching); link-local never is.
    headers = key_headers("matcher")
    response = api.get("/h/hash?url=http://169.254.169.254/latest/meta-data", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "unsafe_url"
    scheme = api.get("/m/lookup?url=file:///etc/passwd", headers=headers)
    assert scheme.json()["error"]["type"] == "unsafe_url"


def test_openapi_documents_uploads_errors_and_public_routes(sqlite_api: TestClient) -> None:
    # User test finding 14.
    spec = sqlite_api.get("/openapi.json").json()
    for path in ("/h/hash", "/m/lookup"):
        form = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert sorted(form["schema"]["properties"]) == ["photo", "video"]
    assert {"401", "413", "415", "422"} <= set(spec["paths"]["/h/hash"]["post"]["responses"])
    assert {"404", "422"} <= set(spec["paths"]["/c/bank/{bank_name}"]["get"]["responses"])
    assert {"404", "415", "422", "503"} <= set(spec["paths"]["/v1/match"]["post"]["responses"])
    description = spec["info"]["description"]
    for public in ("/healthz", "/readyz", "/status", "/docs", "/redoc", "/openapi.json"):
        assert public in description
    for public in ("/status", "/docs", "/redoc", "/openapi.json"):
        assert sqlite_api.get(public).status_code == 200
