"""``/v1/banks``: curators create, change, delete and bulk-import banks; matcher and client
keys cannot (real SQLite and PostgreSQL through the ``api`` fixture)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from safehold.api.state import ServiceState
from safehold.banks.models import Category, NewEntry
from safehold.settings import Settings

KeyHeaders = Callable[..., dict[str, str]]


def _random_pdq(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.getrandbits(256):064x}" for _ in range(n)]


def test_bank_lifecycle(api: TestClient, key_headers: KeyHeaders, api_state: ServiceState) -> None:
    curator = key_headers("curator")
    body = {
        "name": "NCMEC",
        "description": "hotline list",
        "source": "ncmec",
        "thresholds": {"pdq": 24},
        "category": "ncmec-industry:A1",
        "match_action": "block",
        "enabled": False,
    }
    made = api.post("/v1/banks", json=body, headers=curator)
    assert made.status_code == 201, made.text
    bank = made.json()
    assert {k: bank[k] for k in body if k != "name"} == {
        k: v for k, v in body.items() if k != "name"
    }
    assert (bank["name"], bank["entry_count"]) == ("NCMEC", 0)
    stored = api_state.banks.get_bank("ncmec")
    assert (stored.category, stored.enabled) == (Category("ncmec-industry", "A1"), False)

    assert [b["name"] for b in api.get("/v1/banks", headers=curator).json()] == ["NCMEC"]
    assert api.get("/v1/banks/ncmec", headers=curator).json() == bank

    patched = api.patch(
        "/v1/banks/ncmec", json={"category": None, "enabled": True}, headers=curator
    )
    assert patched.status_code == 200, patched.text
    changed = patched.json()
    assert (changed["category"], changed["enabled"], changed["match_action"]) == (
        None,
        True,
        "block",
    )
    assert changed["thresholds"] == {"pdq": 24}  # absent fields stay
    kept = api.patch("/v1/banks/ncmec", json={"description": "new"}, headers=curator).json()
    assert (kept["description"], kept["category"]) == ("new", None)

    api_state.banks.add_entries("ncmec", [NewEntry("md5", "a" * 32)])
    seq = api_state.banks.change_sequence()
    assert api.delete("/v1/banks/NCMEC", headers=curator).status_code == 204
    assert api_state.banks.change_sequence() > seq  # recorded for every worker's index
    gone = api.get("/v1/banks/ncmec", headers=curator)
    assert gone.status_code == 404
    assert gone.json()["error"]["type"] == "not_found"
    assert api.delete("/v1/banks/ncmec", headers=curator).status_code == 404


def test_bad_bank_input_is_refused(api: TestClient, key_headers: KeyHeaders) -> None:
    curator = key_headers("curator")
    assert api.post("/v1/banks", json={"name": "taken"}, headers=curator).status_code == 201
    for body, status, kind in [
        ({"name": "TAKEN"}, 409, "conflict"),
        ({"name": "bad name"}, 422, "invalid_input"),
        ({"name": "b", "thresholds": {"pdq": 999}}, 422, "invalid_input"),
        ({"name": "b", "thresholds": {"nope": 3}}, 422, "invalid_input"),
        ({"name": "b", "category": "nocolon"}, 422, "invalid_input"),
        ({"name": "b", "match_action": "erase"}, 422, "invalid_input"),
        ({"name": "b", "colour": "red"}, 422, "invalid_input"),
    ]:
        answer = api.post("/v1/banks", json=body, headers=curator)
        assert (answer.status_code, answer.json()["error"]["type"]) == (status, kind), body
    assert [b["name"] for b in api.get("/v1/banks", headers=curator).json()] == ["taken"]
    bad = api.patch("/v1/banks/taken", json={"thresholds": {"md5": 1}}, headers=curator)
    assert bad.status_code == 422
    assert "between 0 and 0" in bad.json()["error"]["message"]


def test_only_curators_and_admins_see_banks(api: TestClient, key_headers: KeyHeaders) -> None:
    api.post("/v1/banks", json={"name": "secret-list"}, headers=key_headers("admin"))
    for role in ("matcher", "client"):
        answer = api.get("/v1/banks", headers=key_headers(role))
        assert answer.status_code == 403
        assert "secret-list" not in answer.text
    assert api.get("/v1/banks", headers=key_headers("admin")).status_code == 200


def test_summary_counts_by_signal_type(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    api_state.banks.create_bank("b", category=Category("local", "x"))
    api_state.banks.add_entries(
        "b",
        [NewEntry("md5", "0" * 32), NewEntry("md5", "1" * 32, category=Category("vics", "1"))]
        + [NewEntry("pdq", p) for p in _random_pdq(random.Random(1), 3)],
    )
    first = next(api_state.banks.iter_entries("b", signal_type="pdq"))
    api_state.banks.set_entry_enabled(first.id, False)
    answer = api.get("/v1/banks/B/summary", headers=key_headers("curator"))
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["bank"]["name"], summary["total"], summary["enabled"]) == ("b", 5, 4)
    assert summary["by_signal_type"] == [
        {"signal_type": "md5", "category": None, "enabled": 2, "disabled": 0},
        {"signal_type": "pdq", "category": None, "enabled": 2, "disabled": 1},
    ]
    assert {(c["signal_type"], c["category"]) for c in summary["by_category"]} == {
        ("md5", "local:x"),
        ("md5", "vics:1"),
        ("pdq", "local:x"),
    }
    assert first.value not in answer.text  # counts only, never hash values


def test_import_a_large_plain_list_with_bad_rows(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    curator = key_headers("curator")
    api_state.banks.create_bank("big", category=Category("local", "bulk"))
    values = _random_pdq(random.Random(7), 50_000)
    lines = ["# generated PDQ hashes", *values, values[10]]  # the last one repeats a row
    lines.insert(1001, "x" * 64)  # line 1002: not hex
    lines.insert(30_001, values[0][:-2])  # line 30002: too short
    body = ("\n".join(lines) + "\n").encode()
    answer = api.post(
        "/v1/banks/big/import?format=plain&signal_type=pdq",
        content=body,
        headers={**curator, "Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["added"], result["duplicates"], result["error_count"]) == (50_000, 1, 2)
    assert result["bytes_read"] == len(body)
    assert [e["line"] for e in result["errors"]] == [1002, 30002]
    assert "64 hexadecimal digits" in result["errors"][1]["message"]
    assert values[0][:-2] not in answer.text  # bad rows are described, never echoed
    assert api_state.banks.get_bank("big").entry_count == 50_000
    stored = api_state.banks.find_entries("pdq", values[49_999])
    assert [(e.bank_name, e.category) for e in stored] == [("big", Category("local", "bulk"))]

    head = ("\n".join(lines[:1100]) + "\n").encode()  # the first bad row among them
    again = api.post("/v1/banks/big/import?signal_type=pdq", content=head, headers=curator).json()
    assert (again["added"], again["error_count"]) == (0, 1)  # sniffed plain; all duplicates


def test_import_csv_lists_the_first_100_bad_rows(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState, shared_data: Path
) -> None:
    curator = key_headers("curator")
    api_state.banks.create_bank("ref")
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        rows = list(csv.DictReader(f))
    text = "signal_type,signal_str,category,quality\n"
    text += "".join(f"md5,{r['md5']},vics:1,\n" for r in rows)
    text += "md5,not-a-hash,,\n" * 150
    answer = api.post(
        "/v1/banks/ref/import",
        content=text.encode(),
        headers={**curator, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    distinct = len({r["md5"] for r in rows})
    assert (result["added"], result["error_count"], len(result["errors"])) == (distinct, 150, 100)
    assert result["duplicates"] == len(rows) - distinct
    assert result["errors"][0]["line"] == len(rows) + 2
    entry = next(api_state.banks.iter_entries("ref"))
    assert entry.category == Category("vics", "1")


def test_import_refusals(api: TestClient, key_headers: KeyHeaders, api_state: ServiceState) -> None:
    curator = key_headers("curator")
    missing = api.post("/v1/banks/none/import", content=b"x\n", headers=curator)
    assert missing.status_code == 404
    api_state.banks.create_bank("b")
    for query, body, needle in [
        ("?signal_type=nope", b"0" * 32, "unknown signal type"),
        ("?format=plain&signal_type=vpdq", b"x", "the query parameter format=csv"),
        ("?signal_type=md5", "0123".encode("utf-16"), "UTF-16"),
        ("?category=nocolon", b"x", "scheme:code"),
    ]:
        answer = api.post(f"/v1/banks/b/import{query}", content=body, headers=curator)
        assert answer.status_code == 422, (query, answer.text)
        assert needle in answer.json()["error"]["message"], query
    assert (
        api.post("/v1/banks/b/import?format=xml", content=b"", headers=curator).status_code == 422
    )
    assert api_state.banks.get_bank("b").entry_count == 0
    denied = api.post("/v1/banks/b/import", content=b"0" * 32, headers=key_headers("matcher"))
    assert denied.status_code == 403


def test_import_messages_name_query_parameters(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    # User test finding 12: the API told callers to "give one with --signal-type".
    curator = key_headers("curator")
    api_state.banks.create_bank("b")
    body = b"\n\n0123456789abcdef0123456789abcdef\nmd5,0123456789abcdef0123456789abcdef\n"
    answer = api.post("/v1/banks/b/import?format=plain", content=body, headers=curator)
    assert answer.status_code == 200, answer.text
    assert answer.json()["errors"] == [
        {"line": 3, "message": "no signal type (give one with the signal_type query parameter)"},
        {
            "line": 4,
            "message": "a comma in a plain list: is this CSV? use the query parameter format=csv",
        },
    ]
    assert "--" not in answer.text


def test_import_refuses_media_with_a_pointer(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    api_state.banks.create_bank("photos")
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (40, 120, 200)).save(out, "JPEG")
    answer = api.post(
        "/v1/banks/photos/import?signal_type=pdq",
        content=out.getvalue(),
        headers={**key_headers("curator"), "Content-Type": "image/jpeg"},
    )
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert message == (
        "the body looks like a photo (JPEG), not a hash list; to add the hashes of media "
        "send it to POST /c/bank/photos/content"
    )


def test_import_size_bound_after_the_key(
    import_limited_api: TestClient, service_settings: Settings
) -> None:
    api = import_limited_api
    state: ServiceState = api.app.state.safehold  # type: ignore[attr-defined]
    state.banks.create_bank("small")
    curator = {"Authorization": f"Bearer {state.keys.create_key('c', ('curator',)).secret}"}
    body = b"0123456789abcdef0123456789abcdef\n" * 40  # 1,320 bytes
    assert api.post("/v1/banks/small/import?signal_type=md5", content=body).status_code == 401
    declared = api.post("/v1/banks/small/import?signal_type=md5", content=body, headers=curator)
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "type": "too_large",
        "message": "the bank file is over the limit of 1,024 bytes (SAFEHOLD_MAX_IMPORT_BYTES)",
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(40):
            yield b"0123456789abcdef0123456789abcdef\n"

    streamed = api.post("/v1/banks/small/import?signal_type=md5", content=chunks(), headers=curator)
    assert streamed.status_code == 413
    assert state.banks.get_bank("small").entry_count == 0
    fits = api.post("/v1/banks/small/import?signal_type=md5", content=body[:990], headers=curator)
    assert fits.status_code == 200, fits.text
    assert service_settings.max_import_bytes == 20 * 1024**3  # the default: 20 GiB


def test_import_of_empty_lines_is_cheap_and_keeps_line_numbers(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    # 30 MB of newlines took 31 s; the line number after them is still true.
    api_state.banks.create_bank("blank")
    body = b"\n" * 30_000_000 + b"0123\n" + b"0123456789abcdef0123456789abcdef\n"
    answer = api.post(
        "/v1/banks/blank/import?signal_type=md5", content=body, headers=key_headers("curator")
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["added"], result["bytes_read"]) == (1, len(body))
    assert [e["line"] for e in result["errors"]] == [30_000_001]


def test_import_reads_every_format_the_cli_reads(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    # User test finding 4: format=vics|iwf was a 422, an IWF list sent as text/csv was CSV.
    curator = key_headers("curator")
    md5 = "d35c785545392755e7e4164457657269"  # aaa-orig.jpg, shared/data expected-hashes.csv
    pdq = "f" * 64
    iwf = f"ID,MD5,SHA-1,SHA256,PDQ,PDQ Quality,Category,PhotoDNA\n7,{md5},,,{pdq},90,B,\n"
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
    vics = f'{{"@odata.context": "{context}", "value": [{{"MediaID": 1, "Category": 2, '
    vics += f'"MD5": "{md5}"}}]}}'
    cases = [
        ("iwf-csv", "", "text/csv", iwf, {("md5", "iwf:B"), ("pdq", "iwf:B")}),
        ("iwf-given", "?format=iwf&category_scheme=vics-us", "text/plain", iwf,
         {("md5", "vics-us:B"), ("pdq", "vics-us:B")}),
        ("vics-given", "?format=vics", "application/json", vics, {("md5", "vics-us:2")}),
        ("vics-csv", "", "text/csv", vics, {("md5", "vics-us:2")}),
        ("te-csv", "", "text/csv", f"md5,{md5},,local:x\n", {("md5", "local:x")}),
    ]  # fmt: skip
    for bank, query, content_type, body, expected in cases:
        api_state.banks.create_bank(bank)
        answer = api.post(
            f"/v1/banks/{bank}/import{query}",
            content=body.encode(),
            headers={**curator, "Content-Type": content_type},
        )
        assert answer.status_code == 200, (bank, answer.text)
        assert answer.json()["error_count"] == 0, (bank, answer.text)
        got = {(e.signal_type, str(e.category)) for e in api_state.banks.iter_entries(bank)}
        assert got == expected, bank


def test_an_import_body_without_rows_is_a_422_as_the_cli_exits_1(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    curator = key_headers("curator")
    api_state.banks.create_bank("empty")
    for body in (b"", b"\n\n# only a comment\n"):
        answer = api.post("/v1/banks/empty/import?signal_type=md5", content=body, headers=curator)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"] == (
            "nothing could be read from the upload: it holds no rows"
        )


def test_sharing_a_bank_needs_the_admin_scope(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    curator, admin = key_headers("curator"), key_headers("admin")
    made = api.post("/v1/banks", json={"name": "local"}, headers=curator).json()
    assert made["shared"] is False
    refused = api.patch("/v1/banks/local", json={"shared": True}, headers=curator)
    assert refused.status_code == 403
    assert "admin" in refused.json()["error"]["message"]
    assert api_state.banks.get_bank("local").shared is False
    shared = api.patch("/v1/banks/local", json={"shared": True}, headers=admin)
    assert shared.status_code == 200, shared.text
    assert shared.json()["shared"] is True
    assert api_state.banks.get_bank("local").shared is True
    # Curators still change other fields, and see the flag.
    kept = api.patch("/v1/banks/local", json={"description": "ours"}, headers=curator).json()
    assert (kept["description"], kept["shared"]) == ("ours", True)
    assert (
        api.patch("/v1/banks/local", json={"shared": "yes please"}, headers=admin).status_code
        == 422
    )
