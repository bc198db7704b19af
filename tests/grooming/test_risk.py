"""Conversation risk: escalation order, one-sidedness, age gap, protective context, actions."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources

import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.calibration import LOWERING
from safehold.grooming.features import FEATURE_NAMES
from safehold.grooming.model import Conversation
from safehold.grooming.risk import RiskThresholds, load_risk_model
from safehold.grooming.scoring import score_conversation

Chat = Callable[..., Conversation]

GROOMING_ORDER = [
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
]


def test_grooming_chat_is_flagged_with_reasons(chat: Chat) -> None:
    risk = score_conversation(chat(GROOMING_ORDER))
    assert risk.sender == "a"
    assert risk.action in ("review", "urgent")
    assert risk.score >= 0.6
    assert risk.escalation == (
        "friendship",
        "relationship",
        "risk_assessment",
        "exclusivity",
        "sexual",
    )
    first = risk.indicators[0]
    assert (first.indicator, first.sender, first.message_ids) == ("age_probing", "a", ("m3",))
    assert any("under 18" in line for line in risk.reasons)
    assert risk.messages_read == len(GROOMING_ORDER)
    json.dumps(risk.to_dict())  # serialisable


def test_escalation_order_matters_more_than_single_hits(chat: Chat) -> None:
    forward = score_conversation(chat(GROOMING_ORDER)).score
    a_lines = [line for line in GROOMING_ORDER if line[0] == "a"]
    b_lines = [line for line in GROOMING_ORDER if line[0] == "b"]
    reverse = [x for pair in zip(a_lines[::-1], b_lines, strict=True) for x in pair]
    assert score_conversation(chat(reverse)).score < forward
    single = score_conversation(chat([("a", "send me a pic of you"), ("b", "ok")])).score
    assert single < 0.3


def test_reciprocal_age_questions_between_peers_stay_below_review(chat: Chat) -> None:
    lines = [
        ("a", "how old are you"),
        ("b", "12 u?"),
        ("a", "13"),
        ("a", "add me on discord"),
        ("b", "ok"),
        ("b", "what grade are you in"),
        ("a", "7th"),
    ]
    assert score_conversation(chat(lines)).action in ("none", "monitor")


def test_parents_included_lowers_risk(chat: Chat) -> None:
    base = [
        ("a", "how old are you"),
        ("b", "12"),
        ("a", "we should meet up"),
        ("a", "send me a pic of you"),
    ]
    with_parents = [*base, ("a", "ask your parents first"), ("a", "bring your mom or dad")]
    without = score_conversation(chat(base)).score
    assert score_conversation(chat(with_parents)).score < without


def test_declared_ages_raise_risk(chat: Chat) -> None:
    lines = GROOMING_ORDER[:6]
    plain = score_conversation(chat(lines)).score
    assert score_conversation(chat(lines, a_age=35, b_age=12)).score > plain


def test_thresholds_map_to_actions() -> None:
    t = RiskThresholds(0.3, 0.6, 0.9)
    assert [t.action(s) for s in (0.0, 0.3, 0.6, 0.9)] == ["none", "monitor", "review", "urgent"]
    assert t.action(0.7, pressure=True) == "urgent"
    assert t.action(0.5, pressure=True) == "monitor"
    # persistence: at least review, and review becomes urgent; none stays none below
    assert [t.action(s, persistent=True) for s in (0.0, 0.3, 0.6, 0.9)] == [
        "review",
        "review",
        "urgent",
        "urgent",
    ]
    with pytest.raises(ConfigurationError):
        RiskThresholds(0.7, 0.6, 0.9)


def test_empty_conversation(chat: Chat) -> None:
    risk = score_conversation(chat([]))
    assert (risk.score, risk.action, risk.sender, risk.indicators) == (0.0, "none", None, ())


def test_packaged_model_matches_features() -> None:
    text = resources.files("safehold.grooming").joinpath("data/risk_model.json").read_text()
    document = json.loads(text)
    assert tuple(document["features"]) == FEATURE_NAMES
    for name in ("pattern", "embedding"):
        model = load_risk_model(name)
        assert len(model.weights) == len(FEATURE_NAMES)
        for name_, w in zip(FEATURE_NAMES, model.weights, strict=True):
            if name_ in LOWERING:
                assert w <= 0, name_
            elif name_ != "escalation":
                assert w >= 0, name_
