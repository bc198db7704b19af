"""Evaluation reads the right conversations per family, and refuses input with no labels."""

from __future__ import annotations

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.evaluate import evaluate
from safehold.grooming.model import Conversation, ConversationLabel, Message
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.synthetic import SyntheticOptions, generate


def _one_family(conversations: list[Conversation], family: str) -> list[Conversation]:
    out = []
    for c in conversations:
        assert c.label is not None
        label = ConversationLabel(c.label.grooming, c.label.groomers, family)
        out.append(Conversation(c.id, c.messages, c.participants, label))
    return out


def test_a_family_holding_both_kinds_is_split_by_label(
    pattern_detector: PatternDetector,
) -> None:
    data = _one_family(generate("dev", SyntheticOptions(4, 4, seed=3)), "own")
    report = evaluate(data, pattern_detector)
    assert (report.grooming, report.negatives) == (4, 4)
    # Per family rates read only the conversations they are about, so with one family they
    # are the overall rates: grooming chats flagged are not false positives.
    assert report.false_positive_rate_by_family == {"own": report.false_positive_rate}
    assert report.recall_by_family == {"own": report.per_conversation.recall}
    assert report.per_conversation.recall > 0


def test_families_apart() -> None:
    groom = ConversationLabel(True, frozenset({"a"}), "mixed")
    other = ConversationLabel(False, frozenset(), "mixed")
    pure = ConversationLabel(False, frozenset(), "benign")
    chats = [
        Conversation.build("g", [Message("1", "a", "hello")], label=groom),
        Conversation.build("n", [Message("1", "a", "hello")], label=other),
        Conversation.build("b", [Message("1", "a", "hello")], label=pure),
    ]
    report = evaluate(chats, PatternDetector())
    assert report.false_positive_rate_by_family == {"benign": 0.0, "mixed": 0.0}
    assert report.recall_by_family == {"mixed": 0.0}


def test_no_labelled_conversation_is_an_error() -> None:
    unlabelled = [Conversation.build("c", [Message("1", "a", "hi")])]
    with pytest.raises(InvalidInputError, match="none of the 1 conversations is labelled"):
        evaluate(unlabelled, PatternDetector())
