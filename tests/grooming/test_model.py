"""The data model validates its input with clear errors."""

from __future__ import annotations

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.model import (
    MAX_MESSAGE_CHARS,
    Conversation,
    Message,
    Participant,
)


def test_senders_get_default_participants() -> None:
    conv = Conversation.build(
        "c",
        [Message("1", "a", "hi"), Message("2", "b", "yo")],
        [Participant("a", declared_age=30, role="adult")],
    )
    assert conv.participants["a"].declared_age == 30
    assert conv.participants["b"] == Participant("b")
    assert conv.senders() == ["a", "b"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Message("", "a", "x"), "message id"),
        (lambda: Message("1", " ", "x"), "sender"),
        (lambda: Message("1", "a", "x" * (MAX_MESSAGE_CHARS + 1)), "longer than"),
        (lambda: Participant("a", declared_age=200), "declared_age"),
        (lambda: Participant("a", account_age_days=-1), "account_age_days"),
        (lambda: Participant("a", role="wizard"), "unknown role"),
        (
            lambda: Conversation.build("c", [Message("1", "a", "x"), Message("1", "b", "y")]),
            "duplicate message id",
        ),
        (lambda: Conversation.build("x" * 300, []), "longer than"),
    ],
)
def test_bad_input(build: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()  # type: ignore[operator]
