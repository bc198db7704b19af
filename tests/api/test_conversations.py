"""Conversation routes: scoring, streaming appends shared by workers, scopes, forgetting.

The reference for every answer is the engine itself called in process
(``score_conversation`` and ``ConversationMonitor``): the routes must add storage, workers
and scopes without changing a score or moving a warning.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.api.conftest import KeyHeaders, wait_ready

from safehold.api import conversation_engine
from safehold.api.app import create_app
from safehold.api.state import ServiceState
from safehold.grooming import ConversationMonitor, Message, Participant, score_conversation
from safehold.grooming.classifier import CLASSIFIER_FORMAT, CLASSIFIER_VERSION
from safehold.grooming.config import GroomingConfig
from safehold.grooming.features import FEATURE_NAMES
from safehold.grooming.model import Conversation
from safehold.settings import Settings
from safehold.storage.tables import conversation_messages, conversations

# Synthetic and non-explicit: behavioural indicators in plain wording.
LINES = [
    ("a", "hey"),
    ("b", "hi"),
    ("a", "how old are you"),
    ("b", "13"),
    ("a", "you're so mature for your age"),
    ("b", "thanks"),
    ("a", "are your parents home"),
    ("b", "no"),
    ("a", "this is our little secret, zebra-marker-7"),
    ("b", "ok"),
    ("a", "send me a pic of you"),
    ("b", "why"),
    ("a", "if you don't send it i'll tell your parents"),
    ("b", "please no"),
]
BENIGN = [("a", "did you finish the maths homework"), ("b", "yes, question 4 was hard")]
PEOPLE = [{"id": "a", "declared_age": 34, "account_age_days": 2}, {"id": "b"}]


def _messages(lines: list[tuple[str, str]] = LINES) -> list[dict[str, str]]:
    return [{"id": f"m{i + 1}", "sender": who, "text": text} for i, (who, text) in enumerate(lines)]


def _domain(lines: list[tuple[str, str]] = LINES) -> list[Message]:
    return [Message(m["id"], m["sender"], m["text"]) for m in _messages(lines)]


def _participants() -> list[Participant]:
    return [Participant("a", 34, 2.0), Participant("b")]


def _reference_warnings() -> list[tuple[str, str]]:
    monitor = ConversationMonitor("c1", participants=_participants())
    for message in _domain():
        monitor.append([message])
    return [(w.message_id, w.action) for w in monitor.warnings]


def test_score_matches_the_engine(api: TestClient, key_headers: KeyHeaders) -> None:
    body = {"id": "c1", "participants": PEOPLE, "messages": _messages()}
    response = api.post("/v1/conversations/score", json=body, headers=key_headers("matcher"))
    assert response.status_code == 200, response.text
    risk = response.json()
    expected = score_conversation(Conversation.build("c1", _domain(), _participants()))
    assert risk["score"] == expected.score
    assert risk["action"] == expected.action == "urgent"
    assert risk["sender"] == "a"
    assert risk["messages_read"] == len(LINES)
    found = {i["indicator"]: i["message_ids"] for i in risk["indicators"] if i["sender"] == "a"}
    assert found["age_probing"] == ["m3"]
    assert found["secrecy"] == ["m9"]
    assert found["pressure_threats"] == ["m13"]
    assert [(w["message_id"], w["action"]) for w in risk["warnings"]] == _reference_warnings()
    assert risk["warning"] == risk["warnings"][-1]  # the latest, as a client key sees it


def test_client_gets_level_and_action_only(api: TestClient, key_headers: KeyHeaders) -> None:
    body = {"id": "c1", "participants": PEOPLE, "messages": _messages()}
    answer = api.post("/v1/conversations/score", json=body, headers=key_headers("client")).json()
    last = _reference_warnings()[-1]
    assert answer == {
        "conversation_id": "c1",
        "level": "severe",
        "action": "urgent",
        "messages_read": len(LINES),
        "warning": {"message_id": last[0], "action": last[1]},
    }
    appended = api.post(
        "/v1/conversations/c2/messages",
        json={"messages": _messages()},
        headers=key_headers("client"),
    ).json()
    assert set(appended) == {"conversation_id", "level", "action", "messages_read", "warning"}


def test_streaming_appends_follow_the_monitor(
    api: TestClient, key_headers: KeyHeaders, service_settings: Settings
) -> None:
    """One message per call, alternating between two app instances (two workers) on the same
    database: the warnings come at the same messages as in one in-process monitor."""
    headers = key_headers("matcher")
    with TestClient(create_app(service_settings), raise_server_exceptions=False) as other:
        wait_ready(other)
        warnings: list[tuple[str, str]] = []
        for i, message in enumerate(_messages()):
            client = api if i % 2 else other
            body: dict[str, Any] = {"messages": [message]}
            if i == 0:
                body["participants"] = PEOPLE
            response = client.post("/v1/conversations/c1/messages", json=body, headers=headers)
            assert response.status_code == 200, response.text
            risk = response.json()
            assert risk["messages_read"] == i + 1
            if risk["warning"] is not None:
                assert risk["warning"]["message_id"] == message["id"]
                warnings.append((message["id"], risk["warning"]["action"]))
    assert warnings == _reference_warnings()
    final = api.get("/v1/conversations/c1", headers=headers).json()
    whole = score_conversation(Conversation.build("c1", _domain(), _participants()))
    assert final["score"] == whole.score
    assert [(w["message_id"], w["action"]) for w in final["warnings"]] == warnings


def test_concurrent_appends_lose_nothing(
    api: TestClient, key_headers: KeyHeaders, service_settings: Settings
) -> None:
    headers = key_headers("matcher")
    lines = [("a" if i % 2 else "b", f"message number {i}") for i in range(40)]
    messages = _messages(lines)
    errors: list[str] = []
    with TestClient(create_app(service_settings), raise_server_exceptions=False) as other:
        wait_ready(other)

        def send(client: TestClient, batch: list[dict[str, str]]) -> None:
            for message in batch:
                response = client.post(
                    "/v1/conversations/busy/messages", json={"messages": [message]}, headers=headers
                )
                if response.status_code != 200:
                    errors.append(response.text)

        threads = [
            threading.Thread(target=send, args=(client, messages[k::4]))
            for k, client in enumerate((api, other, api, other))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert api.get("/v1/conversations/busy", headers=headers).json()["messages_read"] == 40


def test_duplicates_bad_input_and_missing(api: TestClient, key_headers: KeyHeaders) -> None:
    headers = key_headers("matcher")
    url = "/v1/conversations/c1/messages"
    assert api.post(url, json={"messages": _messages()[:2]}, headers=headers).status_code == 200
    again = api.post(url, json={"messages": _messages()[1:3]}, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "conflict"
    assert "m2" in again.json()["error"]["message"]
    # the refused batch changed nothing: m3 can still be appended
    third = api.post(url, json={"messages": _messages()[2:3]}, headers=headers)
    assert third.json()["messages_read"] == 3
    twice = api.post(url, json={"messages": [_messages()[5], _messages()[5]]}, headers=headers)
    assert twice.status_code == 422
    bad: dict[str, Any]
    for bad in (
        {"messages": []},
        {"messages": [{"id": "x", "sender": "a", "text": "t" * 10_001}]},
        {"messages": [{"id": " ", "sender": "a", "text": "hi"}]},
        {"messages": [{"id": "m\u0000", "sender": "a", "text": "hi"}]},
        {"messages": _messages()[6:7], "participants": [{"id": "a", "declared_age": 200}]},
        {"messages": _messages()[6:7], "participants": [{"id": "a", "role": "king"}]},
    ):
        response = api.post(url, json=bad, headers=headers)
        assert response.status_code == 422, bad
        assert "t" * 50 not in response.text  # texts are not echoed back
    long_id = "/v1/conversations/" + "c" * 201 + "/messages"
    assert api.post(long_id, json={"messages": _messages()[:1]}, headers=headers).status_code == 422
    assert api.get("/v1/conversations/a%00b", headers=headers).status_code == 422
    assert api.get("/v1/conversations/nope", headers=headers).status_code == 404
    assert api.delete("/v1/conversations/nope", headers=headers).status_code == 404


def test_delete_forgets_and_texts_are_never_stored(
    api: TestClient, api_state: ServiceState, key_headers: KeyHeaders
) -> None:
    headers = key_headers("matcher")
    api.post("/v1/conversations/c1/messages", json={"messages": _messages()}, headers=headers)
    api.post("/v1/conversations/c9/messages", json={"messages": _messages(BENIGN)}, headers=headers)
    with api_state.engine.connect() as c:
        states = c.scalars(select(conversations.c.state)).all()
        assert len(states) == 2
        assert c.scalar(select(conversation_messages.c.message_id).limit(1)) is not None
    stored = " ".join(states)
    assert "zebra-marker-7" not in stored
    assert "maths homework" not in stored
    assert api.delete("/v1/conversations/c1", headers=key_headers("client")).status_code == 403
    assert api.delete("/v1/conversations/c1", headers=headers).status_code == 204
    assert api.get("/v1/conversations/c1", headers=headers).status_code == 404
    with api_state.engine.connect() as c:
        assert c.scalars(select(conversations.c.external_id)).all() == ["c9"]
        ids = c.scalars(select(conversation_messages.c.message_id)).all()
    assert sorted(ids) == ["m1", "m2"]
    # a forgotten conversation starts again from nothing
    again = api.post(
        "/v1/conversations/c1/messages", json={"messages": _messages()[:1]}, headers=headers
    )
    assert again.json()["messages_read"] == 1


def test_benign_conversation_needs_no_action(api: TestClient, key_headers: KeyHeaders) -> None:
    body = {"id": "c1", "messages": _messages(BENIGN)}
    risk = api.post("/v1/conversations/score", json=body, headers=key_headers("matcher")).json()
    assert risk["action"] == "none"
    assert risk["indicators"] == []
    assert risk["warnings"] == []


# -- the server's grooming settings are the server's fault (user test 5, fault 1) -------------


def _classifier_file(path: Path, features: int = len(FEATURE_NAMES)) -> Path:
    """A tiny, valid classifier file (one word, neutral weights); ``features`` short of
    :data:`FEATURE_NAMES` makes it damaged."""
    document = {
        "format": CLASSIFIER_FORMAT,
        "version": CLASSIFIER_VERSION,
        "vocabulary": {"homework": 0},
        "idf": [1.0],
        "text_coef": [0.1],
        "feature_coef": [0.0] * features,
        "feature_mean": [0.0] * len(FEATURE_NAMES),
        "feature_scale": [1.0] * len(FEATURE_NAMES),
        "intercept": -2.0,
        "features": list(FEATURE_NAMES),
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def admin_of(settings: Settings) -> Iterator[Any]:
    """``admin_of(**grooming_settings)`` -> (running SQLite app, admin headers); not waited on
    for readiness (a bad setting keeps /readyz at 503)."""
    clients: list[TestClient] = []

    def start(**update: Any) -> tuple[TestClient, dict[str, str]]:
        app = create_app(settings.model_copy(update={"index_poll_seconds": 0.05, **update}))
        client = TestClient(app, raise_server_exceptions=False).__enter__()
        clients.append(client)
        state: ServiceState = client.app.state.safehold  # type: ignore[attr-defined]
        secret = state.keys.create_key("test admin", ("admin",)).secret
        return client, {"Authorization": f"Bearer {secret}"}

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _ready_reason(client: TestClient) -> tuple[int, str]:
    """/readyz's status and reason once the index is loaded (it may say "index loading")."""
    for _ in range(1500):
        answer = client.get("/readyz")
        reason = answer.json().get("reason", "")
        if reason != "index loading":
            return answer.status_code, reason
        threading.Event().wait(0.02)
    raise AssertionError("the index never loaded")


@pytest.mark.parametrize(
    ("update", "setting"),
    [
        ({"grooming_detector": "bogus"}, "SAFEHOLD_GROOMING_DETECTOR"),
        ({"grooming_model_path": Path("missing-model.json")}, "SAFEHOLD_GROOMING_MODEL_PATH"),
        ({"grooming_model_path": "malformed"}, "SAFEHOLD_GROOMING_MODEL_PATH"),
        ({"grooming_model_path": "damaged"}, "SAFEHOLD_GROOMING_MODEL_PATH"),
        ({"grooming_review_threshold": 0.95}, "SAFEHOLD_GROOMING_{MONITOR,REVIEW,URGENT}"),
    ],
)
def test_bad_grooming_settings_answer_503_and_are_not_ready(
    admin_of: Any, tmp_path: Path, update: dict[str, Any], setting: str
) -> None:
    if update.get("grooming_model_path") == "malformed":
        update = {"grooming_model_path": tmp_path / "model.json"}
        update["grooming_model_path"].write_text('{"format": "nope"}', encoding="utf-8")
    elif update.get("grooming_model_path") == "damaged":
        bad = _classifier_file(tmp_path / "model.json", features=len(FEATURE_NAMES) - 1)
        update = {"grooming_model_path": bad}
    elif "grooming_model_path" in update:
        update = {"grooming_model_path": tmp_path / update["grooming_model_path"]}
    client, headers = admin_of(**update)
    assert _ready_reason(client) == (
        503,
        "conversations cannot be scored: grooming settings invalid",
    )
    body = {"id": "c1", "messages": _messages(BENIGN)}
    appended = {"messages": _messages(BENIGN)}
    for response in (
        client.post("/v1/conversations/score", json=body, headers=headers),
        client.post("/v1/conversations/c1/messages", json=appended, headers=headers),
        client.get("/v1/conversations/c1", headers=headers),
    ):
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["type"] == "configuration"
        assert error["message"].startswith(
            f"conversations cannot be scored: the server's setting {setting}"
        )
        assert str(tmp_path) not in error["message"]  # the path is in the log only
    # matching is not refused for it: only the conversation routes answer 503
    assert client.get("/v1/keys", headers=headers).status_code == 200


def test_a_model_removed_after_start_up_answers_503(
    admin_of: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up check passed; the engine is built on the first request, after the file
    went away: 503 ``configuration`` (was a 500 with a FileNotFoundError traceback), then not
    ready; a restored file is picked up once the retry pause has passed."""
    model = _classifier_file(tmp_path / "model.json")
    client, headers = admin_of(grooming_model_path=model)
    assert _ready_reason(client) == (200, "")
    model.unlink()
    body = {"id": "c1", "messages": _messages(BENIGN)}
    refused = client.post("/v1/conversations/score", json=body, headers=headers)
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "configuration"
    assert "SAFEHOLD_GROOMING_MODEL_PATH" in refused.json()["error"]["message"]
    assert _ready_reason(client)[0] == 503
    _classifier_file(model)
    monkeypatch.setattr(conversation_engine, "RETRY_SECONDS", 0.0)  # the pause is over
    scored = client.post("/v1/conversations/score", json=body, headers=headers)
    assert scored.status_code == 200, scored.text
    assert "classifier-" in scored.json()["model"]
    assert _ready_reason(client) == (200, "")


def test_an_engine_that_fails_to_load_answers_503(
    admin_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any failure building the engine from the settings is the server's (503), not a 500."""
    client, headers = admin_of()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the embedding model could not be exported")

    monkeypatch.setattr(GroomingConfig, "from_settings", broken)
    body = {"id": "c1", "messages": _messages(BENIGN)}
    refused = client.post("/v1/conversations/score", json=body, headers=headers)
    assert refused.status_code == 503
    assert refused.json()["error"] == {
        "type": "configuration",
        "message": "conversations cannot be scored: the grooming engine failed to load with "
        "the server's SAFEHOLD_GROOMING_* settings (the server log says why)",
    }
    assert _ready_reason(client)[0] == 503


# -- the HTTP body is read as the CLI reads JSON Lines (fault 2) ---------------------------------


def test_types_are_strict_as_in_the_cli(api: TestClient, key_headers: KeyHeaders) -> None:
    """What ``safehold chat`` refuses, HTTP refuses (pydantic's lax mode read ``"30"``,
    ``30.0`` and ``true`` as the age 30, 30 and 1); what it accepts, HTTP accepts."""
    headers = key_headers("matcher")
    for where, field, value in (
        ("participants", "declared_age", "30"),
        ("participants", "declared_age", 30.0),
        ("participants", "declared_age", True),
        ("participants", "account_age_days", "2"),
        ("participants", "account_age_days", False),
        ("participants", "id", True),
        ("participants", "id", 7.0),
        ("participants", "role", 1),
        ("messages", "sender", True),
        ("messages", "sender", 7.5),
        ("messages", "text", 7),
        ("messages", "id", False),
        ("messages", "time", 1714557600),
        ("messages", "time", "yesterday"),
    ):
        body: dict[str, Any] = {"id": "c1", "participants": PEOPLE, "messages": _messages()}
        body[where] = [dict(body[where][0], **{field: value}), *body[where][1:]]
        for url, sent in (
            ("/v1/conversations/score", body),
            ("/v1/conversations/c1/messages", {k: body[k] for k in ("participants", "messages")}),
        ):
            response = api.post(url, json=sent, headers=headers)
            assert response.status_code == 422, (url, field, value)
            assert response.json()["error"]["message"].startswith(f"body.{where}.0.{field}: ")
    for conv_id in (7.0, True):
        body = {"id": conv_id, "messages": _messages()}
        response = api.post("/v1/conversations/score", json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["message"].startswith("body.id: ")
    # what the CLI accepts, HTTP accepts: an integer number of days, a Z time, and integer
    # ids read as their decimal strings
    body = {
        "id": "c1",
        "participants": [{"id": "a", "declared_age": 34, "account_age_days": 2}, {"id": "b"}],
        "messages": [dict(m, time="2024-05-01T10:00:00Z") for m in _messages()],
    }
    scored = api.post("/v1/conversations/score", json=body, headers=headers)
    assert scored.status_code == 200, scored.text
    expected = score_conversation(Conversation.build("c1", _domain(), _participants()))
    assert scored.json()["score"] == expected.score
    numeric = {
        "id": 41,
        "participants": [{"id": 1, "declared_age": 34, "account_age_days": 2}, {"id": 2}],
        "messages": [
            {"id": 100 + i, "sender": 1 if who == "a" else 2, "text": text}
            for i, (who, text) in enumerate(LINES)
        ],
    }
    risk = api.post("/v1/conversations/score", json=numeric, headers=headers).json()
    assert risk["conversation_id"] == "41"
    assert risk["sender"] == "1"
    assert risk["score"] == expected.score
    found = {i["indicator"]: i["message_ids"] for i in risk["indicators"]}
    assert found["age_probing"] == ["102"]


def test_labelled_lines_are_scored_as_they_are(api: TestClient, key_headers: KeyHeaders) -> None:
    """A line of a labelled file (``safehold chat generate``) is accepted, the label ignored;
    a truly unknown field is still refused."""
    headers = key_headers("matcher")
    plain = {"id": "c1", "participants": PEOPLE, "messages": _messages()}
    label = {"grooming": True, "groomers": ["a"], "family": "own-cases"}
    unlabelled = api.post("/v1/conversations/score", json=plain, headers=headers)
    labelled = api.post("/v1/conversations/score", json=plain | {"label": label}, headers=headers)
    assert labelled.status_code == 200, labelled.text
    assert labelled.json() == unlabelled.json()
    assert labelled.json()["action"] == "urgent"
    for bad_label, message in (
        ({"groomers": []}, "body.label.grooming: Field required"),
        (
            {"grooming": True, "groomers": ["zz"]},
            "conversation 'c1': label groomers 'zz' are neither participants nor senders",
        ),
        (
            {"grooming": False, "groomers": ["a"]},
            "label groomers must be empty when grooming is false",
        ),
    ):  # checked as the CLI checks it
        wrong = api.post(
            "/v1/conversations/score", json=plain | {"label": bad_label}, headers=headers
        )
        assert wrong.status_code == 422
        assert wrong.json()["error"]["message"] == message
    for unknown in ({"labels": label}, {"family": "own-cases"}):
        refused = api.post("/v1/conversations/score", json=plain | unknown, headers=headers)
        assert refused.status_code == 422
        assert "Extra inputs are not permitted" in refused.json()["error"]["message"]
    appended = api.post(
        "/v1/conversations/c1/messages",
        json={"messages": _messages(), "label": label},
        headers=headers,
    )
    assert appended.status_code == 422  # an append carries messages, not a labelled line


def test_score_numbers_messages_without_ids(api: TestClient, key_headers: KeyHeaders) -> None:
    """Only the conversation id, sender and text are required on the score route; a message
    without an id gets its 1-based position, skipping ids other messages already have.
    Appends still need ids (they deduplicate)."""
    headers = key_headers("matcher")
    bare = [{"sender": who, "text": text} for who, text in LINES]
    body = {"id": "c1", "participants": PEOPLE, "messages": bare}
    risk = api.post("/v1/conversations/score", json=body, headers=headers)
    assert risk.status_code == 200, risk.text
    found = {i["indicator"]: i["message_ids"] for i in risk.json()["indicators"]}
    assert found["age_probing"] == ["3"]
    assert found["secrecy"] == ["9"]
    assert found["pressure_threats"] == ["13"]
    mixed = [{"sender": "a", "text": "how old are you"}, {"id": "1", "sender": "b", "text": "13"}]
    mixed.append({"sender": "a", "text": "are your parents home"})
    risk = api.post(
        "/v1/conversations/score", json={"id": "c2", "messages": mixed}, headers=headers
    )
    assert risk.status_code == 200, risk.text
    found = {i["indicator"]: i["message_ids"] for i in risk.json()["indicators"]}
    assert found["age_probing"] == ["2"]  # "1" was taken by the second message
    assert found["supervision_check"] == ["3"]
    refused = api.post("/v1/conversations/c1/messages", json={"messages": bare}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "body.messages.0.id: Field required"
    too_long = {"id": "c" * 201, "messages": bare}
    assert api.post("/v1/conversations/score", json=too_long, headers=headers).status_code == 422
    at_limit = {"id": "c" * 200, "messages": [{"id": "m" * 200, "sender": "s" * 200, "text": "hi"}]}
    assert api.post("/v1/conversations/score", json=at_limit, headers=headers).status_code == 200


# -- ``warning`` means the same for every scope (fault 3) ---------------------------------------


def test_warning_is_the_same_for_every_scope(api: TestClient, key_headers: KeyHeaders) -> None:
    """Score and GET: the latest warning; append: the warning that append raised. An admin
    key used to get null where a client key got the latest warning."""
    scopes = ("admin", "matcher", "client")
    keys = {scope: key_headers(scope) for scope in scopes}
    last_id, last_action = _reference_warnings()[-1]
    latest = {"message_id": last_id, "action": last_action}
    body = {"id": "c1", "participants": PEOPLE, "messages": _messages()}
    appended = api.post(
        "/v1/conversations/c1/messages",
        json={"participants": PEOPLE, "messages": _messages()},
        headers=keys["matcher"],
    ).json()
    assert appended["warning"]["message_id"] == last_id  # this batch raised it
    for scope in scopes:
        for answer in (
            api.post("/v1/conversations/score", json=body, headers=keys[scope]).json(),
            api.get("/v1/conversations/c1", headers=keys[scope]).json(),
        ):
            warning = answer["warning"]
            assert {k: warning[k] for k in ("message_id", "action")} == latest, scope
            if scope != "client":
                assert warning == answer["warnings"][-1]
    quiet = api.post(
        "/v1/conversations/c1/messages",
        json={"messages": [{"id": "m99", "sender": "b", "text": "ok"}]},
        headers=keys["admin"],
    ).json()
    assert quiet["warning"] is None  # nothing new was raised by this append
    for scope in scopes:
        again = api.get("/v1/conversations/c1", headers=keys[scope]).json()
        assert again["warning"]["message_id"] == last_id
    benign = {"id": "c9", "messages": _messages(BENIGN)}
    for scope in scopes:
        answer = api.post("/v1/conversations/score", json=benign, headers=keys[scope]).json()
        assert answer["warning"] is None
