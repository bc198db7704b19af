"""Conversation routes: scoring, streaming appends shared by workers, scopes, forgetting.

The reference for every answer is the engine itself called in process
(``score_conversation`` and ``ConversationMonitor``): the routes must add storage, workers
and scopes without changing a score or moving a warning.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.api.conftest import KeyHeaders, wait_ready

from safehold.api.app import create_app
from safehold.api.state import ServiceState
from safehold.grooming import ConversationMonitor, Message, Participant, score_conversation
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
    assert risk["warning"] is None


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
