"""Streaming monitor: early warning with a skepticism window, escalation, bad input."""

from __future__ import annotations

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.model import Message, Participant
from safehold.grooming.risk import RiskThresholds
from safehold.grooming.scoring import ConversationMonitor

LINES = [
    ("a", "hey"),
    ("b", "hi"),
    ("a", "how old are you"),
    ("b", "13"),
    ("a", "you're so mature for your age"),
    ("b", "thanks"),
    ("a", "are your parents home"),
    ("b", "no"),
    ("a", "this is our little secret"),
    ("b", "ok"),
    ("a", "send me a pic of you"),
    ("b", "why"),
    ("a", "if you don't send it i'll tell your parents"),
    ("b", "please no"),
]


def _messages() -> list[Message]:
    return [Message(f"m{i + 1}", who, text) for i, (who, text) in enumerate(LINES)]


def _first_warning(skepticism: int) -> int:
    monitor = ConversationMonitor("c", skepticism=skepticism)
    for message in _messages():
        _, warning = monitor.append([message])
        if warning is not None:
            return warning.message_index
    raise AssertionError("no warning")


def test_warns_before_the_end_and_escalates_once() -> None:
    monitor = ConversationMonitor("c", participants=[Participant("a"), Participant("b")])
    warnings = []
    for message in _messages():
        risk, warning = monitor.append([message])
        assert risk.messages_read == int(message.id[1:])
        if warning:
            warnings.append(warning)
    assert warnings
    assert warnings[0].message_index < len(LINES) - 1
    assert [w.action for w in warnings] in (["review", "urgent"], ["urgent"])
    assert warnings[-1].risk.sender == "a"
    assert monitor.warnings == warnings


def test_skepticism_delays_the_warning() -> None:
    assert _first_warning(4) > _first_warning(1)


def test_batch_append_equals_one_by_one() -> None:
    batch = ConversationMonitor("c")
    risk, warning = batch.append(_messages())
    single = ConversationMonitor("c")
    for message in _messages():
        last, _ = single.append([message])
    assert risk.score == last.score
    assert warning is not None
    assert [w.message_index for w in batch.warnings] == [w.message_index for w in single.warnings]


def test_thresholds_are_the_platform_s() -> None:
    strict = ConversationMonitor("c", thresholds=RiskThresholds(0.99, 0.999, 0.9999))
    _, warning = strict.append(_messages()[:6])
    assert warning is None


def test_bad_input() -> None:
    monitor = ConversationMonitor("c")
    monitor.append([Message("m1", "a", "hi")])
    with pytest.raises(InvalidInputError, match="already appended"):
        monitor.append([Message("m1", "a", "again")])
    with pytest.raises(InvalidInputError, match="skepticism"):
        ConversationMonitor("c", skepticism=0)
