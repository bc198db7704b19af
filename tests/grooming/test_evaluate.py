"""Evaluation metrics against hand-computed values, and a small end-to-end run."""

from __future__ import annotations

import math

import pytest

from safehold.grooming.evaluate import Scores, evaluate, latency_penalty
from safehold.grooming.model import Conversation
from safehold.grooming.synthetic import SyntheticOptions, generate


def test_scores_from_counts() -> None:
    s = Scores.from_counts(tp=8, fp=2, fn=4)
    assert (s.precision, s.recall) == (0.8, pytest.approx(0.6667, abs=1e-4))
    assert s.f1 == pytest.approx(2 * 0.8 * (8 / 12) / (0.8 + 8 / 12), abs=1e-4)
    assert s.f05 == pytest.approx(1.25 * 0.8 * (8 / 12) / (0.25 * 0.8 + 8 / 12), abs=1e-4)
    assert Scores.from_counts(0, 0, 0).f05 == 0.0


def test_latency_penalty_reference_values() -> None:
    # Sadeque et al. 2018: no penalty for a decision after the first message, 0.5 where
    # p (k - 1) = ln 3, and it tends to 1.
    assert latency_penalty(1, 0.0078) == 0.0
    assert latency_penalty(1 + round(math.log(3) / 0.0078), 0.0078) == pytest.approx(0.5, abs=2e-3)
    assert latency_penalty(10_000, 0.0078) == pytest.approx(1.0, abs=1e-6)


def test_end_to_end_on_a_small_dev_set() -> None:
    data: list[Conversation] = generate("dev", SyntheticOptions(20, 20, seed=11))
    report = evaluate(data)
    assert (report.grooming, report.negatives) == (20, 20)
    assert report.per_conversation.tp + report.per_conversation.fn == 20
    assert 0 <= report.false_positive_rate <= 1
    assert report.median_share_read is not None
    assert 0 < report.median_share_read <= 1
    assert report.latency_f1 <= report.per_conversation.f1
    assert set(report.recall_by_family) <= {
        "synthetic:gamer",
        "synthetic:romance",
        "synthetic:fast",
        "synthetic:direct",
        "synthetic:player",
        "synthetic:listener",
    }
    assert report.to_dict()["settings"]["skepticism"] == 2
