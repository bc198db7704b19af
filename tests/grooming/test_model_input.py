"""The data model and the classifier file refuse mistyped or damaged input with a clear
InvalidInputError (never a raw TypeError or IndexError)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.classifier import CLASSIFIER_FORMAT, CLASSIFIER_VERSION, GroomingClassifier
from safehold.grooming.features import FEATURE_NAMES
from safehold.grooming.model import Conversation, ConversationLabel, Message, Participant


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Participant("a", declared_age="30"), "declared_age must be an integer"),
        (lambda: Participant("a", declared_age=True), "declared_age must be an integer"),
        (lambda: Participant("a", declared_age=30.5), "declared_age must be an integer"),
        (lambda: Participant("a", account_age_days="2"), "account_age_days must be a number"),
        (lambda: Participant("a", account_age_days=math.nan), "account_age_days must be"),
        (lambda: Participant("a", account_age_days=math.inf), "account_age_days must be"),
        (lambda: Participant("a", role=["adult"]), "role must be a string"),
        (lambda: Message("1", "a", "x", time="2024-01-01"), "time must be a datetime"),
        (lambda: ConversationLabel("yes"), "grooming must be a boolean"),
        (lambda: ConversationLabel(True, "ab"), "groomers must be a set"),
        (lambda: ConversationLabel(False, frozenset({"a"})), "must be empty"),
        (
            lambda: Conversation.build(
                "c", [Message("1", "a", "x")], [Participant("a"), Participant("a", 12)]
            ),
            "duplicate participant id 'a'",
        ),
        (
            lambda: Conversation.build(
                "c", [Message("1", "a", "x")], label=ConversationLabel(True, frozenset({"z"}))
            ),
            "label groomers 'z' are neither participants nor senders",
        ),
    ],
)
def test_mistyped_input_names_the_field(build: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()


def test_groomers_may_be_any_iterable_of_ids() -> None:
    assert ConversationLabel(True, {"a"}).groomers == frozenset({"a"})  # type: ignore[arg-type]
    conv = Conversation.build(
        "c", [Message("1", "b", "x")], [Participant("a")], ConversationLabel(True, frozenset("a"))
    )
    assert conv.label is not None
    assert conv.label.groomers == frozenset({"a"})


def _document(**changes: Any) -> dict[str, Any]:
    n = len(FEATURE_NAMES)
    doc: dict[str, Any] = {
        "format": CLASSIFIER_FORMAT,
        "version": CLASSIFIER_VERSION,
        "features": list(FEATURE_NAMES),
        "vocabulary": {"hello": 0, "old are": 1, "are": 2},
        "idf": [1.0, 2.0, 1.5],
        "text_coef": [0.1, 0.9, 0.0],
        "feature_coef": [0.0] * n,
        "feature_mean": [0.0] * n,
        "feature_scale": [1.0] * n,
        "intercept": -1.0,
    }
    doc.update(changes)
    return doc


def test_a_whole_classifier_file_loads() -> None:
    model = GroomingClassifier(_document())
    assert 0 < model.score(model.counts("how old are you"), [0.0] * len(FEATURE_NAMES)) < 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text_coef": [0.1]}, "'text_coef' has shape \\(1,\\), expected \\(3,\\)"),
        ({"idf": [1.0, 2.0, 1.5, 4.0]}, "'idf' has shape"),
        ({"feature_mean": [0.0]}, "'feature_mean' has shape"),
        ({"feature_scale": [[1.0]] * len(FEATURE_NAMES)}, "'feature_scale' has shape"),
        ({"feature_coef": [math.nan] * len(FEATURE_NAMES)}, "non-finite"),
        ({"feature_scale": [0.0] * len(FEATURE_NAMES)}, "'feature_scale' has 0"),
        ({"vocabulary": {"hello": 0, "old are": 7, "are": 2}}, "'vocabulary' ids"),
        ({"vocabulary": {"hello": 0, "old are": 0, "are": 2}}, "'vocabulary' ids"),
        ({"vocabulary": {"hello": "0", "old are": 1, "are": 2}}, "'vocabulary' ids"),
        ({"intercept": math.inf}, "'intercept'"),
    ],
)
def test_a_damaged_classifier_file_is_refused_on_load(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        GroomingClassifier(_document(**changes))
