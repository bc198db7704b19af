"""Round 7: a confident score skips the skepticism window (``RiskModel.confident``)."""

from __future__ import annotations

import math

from safehold.grooming.features import FEATURE_NAMES
from safehold.grooming.model import Message
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.risk import RiskModel, load_risk_model
from safehold.grooming.scoring import ConversationMonitor

MESSAGES = [
    Message("m1", "a", "this is our little secret"),  # exclusivity: review without a 2nd
    Message("m2", "b", "ok"),
    Message("m3", "a", "how was school"),
]


def _constant(score: float, confident: float | None) -> RiskModel:
    # every sender scores ``score`` (bias only), so only the warning rule decides
    n = len(FEATURE_NAMES)
    bias = math.log(score / (1 - score))
    return RiskModel("test", (0.0,) * n, bias, (0.0,) * n, (1.0,) * n, 1, confident)


def _first_warning(model: RiskModel, skepticism: int = 2) -> int | None:
    monitor = ConversationMonitor(
        "c", detector=PatternDetector(), skepticism=skepticism, model=model
    )
    monitor.append(MESSAGES)
    return monitor.warnings[0].message_index if monitor.warnings else None


def test_without_confident_the_window_applies() -> None:
    assert _first_warning(_constant(0.7, None)) == 1
    assert _first_warning(_constant(0.7, None), skepticism=3) == 2


def test_a_confident_score_warns_at_the_first_message() -> None:
    assert _first_warning(_constant(0.7, 0.6)) == 0
    assert _first_warning(_constant(0.7, 0.6), skepticism=3) == 0


def test_below_the_confident_score_the_window_applies() -> None:
    assert _first_warning(_constant(0.7, 0.8)) == 1


def test_confident_alone_does_not_warn_below_review() -> None:
    assert _first_warning(_constant(0.5, 0.4)) is None


def test_packaged_confident_per_detector() -> None:
    assert load_risk_model("embedding").confident == 0.6
    assert load_risk_model("pattern").confident is None
    assert _constant(0.7, 0.6).to_dict()["confident"] == 0.6
