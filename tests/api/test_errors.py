"""Every refusal has the shape ``{"error": {"type", "message"}}``, bodies over the limit are
refused before they are read, and a bad body never gets past a missing key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import UploadFile
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from safehold.api.app import create_app
from safehold.api.body_limit import BodyLimitMiddleware
from safehold.api.deps import MatchCaller
from safehold.api.state import ServiceState
from safehold.settings import Settings

KeyHeaders = Callable[..., dict[str, str]]


def _error(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["type"], str)
    assert body["error"]["message"]
    error: dict[str, object] = body["error"]
    return error


def test_unknown_route_and_wrong_method(api: TestClient) -> None:
    missing = api.get("/v1/no-such-thing")
    assert missing.status_code == 404
    assert _error(missing)["type"] == "not_found"
    wrong = api.delete("/healthz")
    assert wrong.status_code == 405
    assert _error(wrong)["type"] == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]


def test_validation_error_names_fields_without_echoing_values(
    api: TestClient, key_headers: KeyHeaders
) -> None:
    marker = "q" * 150  # too long for a key name
    response = api.post(
        "/v1/keys", json={"name": marker, "scopes": ["admin"]}, headers=key_headers("admin")
    )
    assert response.status_code == 422
    error = _error(response)
    assert error["type"] == "invalid_input"
    assert str(error["message"]).startswith("body.name:")
    assert error["details"] == [
        {"loc": ["body", "name"], "message": "String should have at most 100 characters"}
    ]
    assert marker not in response.text


def test_malformed_json_checks_the_key_first(api: TestClient, key_headers: KeyHeaders) -> None:
    broken = b'{"name": "x", "scopes": ['
    json_type = {"Content-Type": "application/json"}
    no_key = api.post("/v1/keys", content=broken, headers=json_type)
    assert no_key.status_code == 401
    assert _error(no_key)["type"] == "unauthenticated"
    assert no_key.headers["www-authenticate"] == "Bearer"
    bad_key = api.post("/v1/keys", content=broken, headers={**json_type, "X-API-Key": "shk_x"})
    assert bad_key.status_code == 401
    client = api.post("/v1/keys", content=broken, headers={**json_type, **key_headers("client")})
    assert client.status_code == 403
    assert _error(client)["type"] == "forbidden"
    admin = api.post("/v1/keys", content=broken, headers={**json_type, **key_headers("admin")})
    assert admin.status_code == 422
    assert _error(admin)["type"] == "invalid_input"
    assert "JSON" in str(_error(admin)["message"])


def test_json_routes_refuse_other_content_types_after_the_key(
    api: TestClient, key_headers: KeyHeaders
) -> None:
    body = b'{"signal_type": "pdq", "value": "' + b"0" * 64 + b'"}'
    text = {"Content-Type": "text/plain"}
    assert api.post("/v1/match", content=body, headers=text).status_code == 401
    curator = api.post("/v1/match", content=body, headers={**text, **key_headers("curator")})
    assert curator.status_code == 403
    matcher = key_headers("matcher")
    for headers in (text, {"Content-Type": "application/x-www-form-urlencoded"}, {}):
        answer = api.post("/v1/match", content=body, headers={**headers, **matcher})
        assert answer.status_code == 415, (headers, answer.text)
        assert _error(answer) == {
            "type": "unsupported",
            "message": "send the body as JSON with the header Content-Type: application/json",
        }
    # Every JSON route, HMA's and the admin routes included.
    admin = key_headers("admin")
    keys = api.post("/v1/keys", content=b'{"name": "x", "scopes": ["client"]}', headers=admin)
    assert keys.status_code == 415
    compare = api.post("/m/compare", content=b"{}", headers={**text, **admin})
    assert compare.status_code == 415
    # JSON in any of its spellings is read as JSON; no body at all is the usual 422.
    json_type = {"Content-Type": "application/json; charset=utf-8", **matcher}
    assert api.post("/v1/match", content=body, headers=json_type).status_code == 200
    empty = api.post("/v1/match", headers=matcher)
    assert empty.status_code == 422
    assert _error(empty)["message"] == "body: Field required"


def test_malformed_upload_checks_the_key_first(api: TestClient, key_headers: KeyHeaders) -> None:
    async def probe(file: UploadFile, _key: MatchCaller) -> dict[str, str]:
        return {"name": file.filename or ""}

    api.app.add_api_route("/upload-probe", probe, methods=["POST"])  # type: ignore[attr-defined]
    broken = {"Content-Type": "multipart/form-data; boundary=zzz"}
    body = b"--zzz\r\nContent-Disposition: form-data; name=file\r\n\r\nno end"
    no_key = api.post("/upload-probe", content=body, headers=broken)
    assert no_key.status_code == 401
    curator = api.post("/upload-probe", content=body, headers={**broken, **key_headers("curator")})
    assert curator.status_code == 403
    client = api.post("/upload-probe", content=body, headers={**broken, **key_headers("client")})
    assert client.status_code in (400, 422)
    assert _error(client)["type"] in ("bad_request", "invalid_input")
    good = api.post(
        "/upload-probe", files={"file": ("a.txt", b"hi")}, headers=key_headers("client")
    )
    assert good.json() == {"name": "a.txt"}


def test_unexpected_errors_say_nothing(api: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    api.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    response = api.get("/boom")
    assert response.status_code == 500
    assert _error(response) == {
        "type": "internal",
        "message": "internal error; the server log has the details",
    }


def test_body_over_the_limit(limited_api: TestClient, key_headers: KeyHeaders) -> None:
    # key_headers makes keys through the `api` fixture's app; limited_api shares the database.
    admin = key_headers("admin")
    big = b"x" * 2000
    declared = limited_api.post("/v1/keys", content=big, headers=admin)
    assert declared.status_code == 413
    assert _error(declared)["type"] == "too_large"
    assert "1,024 bytes" in str(_error(declared)["message"])
    no_key = limited_api.post("/v1/keys", content=big)
    assert no_key.status_code == 413  # refused before anything else

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b'{"name": "' + b"y" * 500

    chunked = limited_api.post(
        "/v1/keys", content=chunks(), headers={**admin, "Content-Type": "application/json"}
    )
    assert chunked.status_code == 413
    assert _error(chunked)["type"] == "too_large"
    small = limited_api.post("/v1/keys", json={"name": "ok", "scopes": ["client"]}, headers=admin)
    assert small.status_code == 201


def test_declared_length_is_refused_without_reading_the_body() -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        called.append("app")

    async def receive() -> Message:
        called.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = BodyLimitMiddleware(app, max_bytes=100, exempt=(r"/v1/banks/[^/]+/import",))
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/match",
        "headers": [(b"content-length", str(10**12).encode())],
    }
    asyncio.run(middleware(scope, receive, send))
    assert called == []  # neither the app nor the body was touched
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    exempt = {**scope, "path": "/v1/banks/big/import"}
    asyncio.run(middleware(exempt, receive, send))
    assert called == ["app"]


def test_nul_characters_are_refused_with_a_reason_on_every_backend(
    api: TestClient, key_headers: KeyHeaders, api_state: ServiceState
) -> None:
    # PostgreSQL cannot store NUL in text: these used to be 500s (and a 503) there, while
    # SQLite stored them. Every kind of input path: a JSON field, a query filter, a path
    # name, and a bulk-import row (which must stay one bad row among good ones).
    admin = key_headers("admin")
    refused = api.post("/v1/keys", json={"name": "a\u0000b", "scopes": ["client"]}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert "NUL" in refused.json()["error"]["message"]
    events = api.get("/v1/match-events", params={"bank": "a\u0000b"}, headers=admin)
    assert events.status_code in (404, 422), events.text
    assert api.get("/v1/banks/a%00b", headers=admin).status_code in (404, 422)
    api_state.banks.create_bank("nul")
    good = "f" * 64
    text = f"signal_type,signal_str,category\npdq,{good},local:ok\npdq,{'e' * 64},lo\u0000cal:x\n"
    answer = api.post(
        "/v1/banks/nul/import",
        content=text.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["added"], result["error_count"]) == (1, 1)
    assert result["errors"][0]["line"] == 3


def test_a_broken_server_setting_is_a_503_with_its_reason(
    service_settings: Settings, tmp_path: Path
) -> None:
    """A setting the caller cannot fix (a federation key file that is not a key) answers 503
    with the reason, never a bare 500, and never the key file's contents."""
    key_file = tmp_path / "federation.pem"
    key_file.write_text("not a key at all")
    settings = service_settings.model_copy(update={"federation_key_file": key_file})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        state = client.app.state.safehold  # type: ignore[attr-defined]
        peer = {"Authorization": f"Bearer {state.keys.create_key('p', ['peer']).secret}"}
        response = client.get("/v1/federation/feed", headers=peer)
    assert response.status_code == 503
    error = _error(response)
    assert error["type"] == "configuration"
    assert "federation key" in error["message"]
    assert "not a key at all" not in response.text
