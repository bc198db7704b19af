"""Round 6: fitting on every seen split, leave-one-writer-out, benign lines, prior shift.

Nothing here names or reads a blind split: the allow-list of seen splits is checked with a
made-up name."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from safehold.grooming import calibration
from safehold.grooming.calibration import (
    BASE_SPLITS,
    FIT_SPLITS,
    RISK_SPLITS,
    SEEN_SPLITS,
    fit_risk_model,
    training_conversations,
)
from safehold.grooming.indicator_fit import (
    BENIGN_TOPICS,
    MAX_NONE_FLAGGED,
    POSITIVE_SPLITS,
    benign_pairs,
    choose_threshold,
    line_pairs,
    load_benign_lines,
)
from safehold.grooming.indicator_model import NONE, IndicatorModel
from safehold.grooming.model import Conversation
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.synthetic import SPLITS, template_lines
from safehold.grooming.writers import HELD_WRITERS, fit_models, leave_one_writer_out

_WORD = re.compile(r"[a-z0-9']+")


def _grams(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_seen_splits_are_an_allow_list() -> None:
    # every split up to holdout10, in order (holdout10 seen since round 13); a split registered
    # after it (the next blind test) is not fitted on, whether or not it is registered yet
    assert SPLITS[: SPLITS.index("holdout10") + 1] == SEEN_SPLITS
    assert set(SPLITS) - set(SEEN_SPLITS) <= {"holdout11"}
    assert "holdout11" not in SEEN_SPLITS
    # every seen writer with a template file of its own, newest first
    assert tuple(f"holdout{n}" for n in range(10, 1, -1)) == HELD_WRITERS
    assert set(FIT_SPLITS) <= set(SEEN_SPLITS)
    assert all(set(splits) <= set(SEEN_SPLITS) for splits in RISK_SPLITS.values())
    assert set(HELD_WRITERS) <= set(SEEN_SPLITS) - set(BASE_SPLITS)
    with pytest.raises(ValueError, match="not a seen split: holdout11"):
        training_conversations(("train", "holdout11"))


def test_benign_lines_share_no_five_words_with_any_seen_split() -> None:
    table = load_benign_lines()
    assert set(BENIGN_TOPICS) <= set(table)
    lines = [line for topic in BENIGN_TOPICS for line in table[topic]]
    assert len(lines) == len(set(lines)) >= 100
    seen: set[tuple[str, ...]] = set()
    for split in SEEN_SPLITS:
        for line in template_lines(split):
            seen |= _grams(line.text)
    shared = {line: _grams(line) & seen for line in lines}
    assert {line: grams for line, grams in shared.items() if grams} == {}


def test_benign_pairs_are_none_and_obfuscated_once() -> None:
    pairs = benign_pairs(("small_talk",))
    assert {label for _, label, _ in pairs} == {NONE}
    count = len(load_benign_lines()["small_talk"])
    assert len(pairs) == 2 * count  # every line has three words or more, plus one variant


def test_line_pairs_take_positives_from_every_seen_writer() -> None:
    # round 8: every seen writer's grooming lines are positives (round 6: the base writer's)
    assert POSITIVE_SPLITS == SEEN_SPLITS
    pairs = line_pairs(("train", "holdout3"))
    by_split: dict[str, set[str]] = {"train": set(), "holdout3": set()}
    for _, label, group in pairs:
        split = group.split(":", 1)[0]
        if split in by_split:
            by_split[split].add(label)
    assert {"age_probing", "image_request", "secrecy"} <= by_split["train"]
    assert {NONE, "gifts", "platform_move", "secrecy"} <= by_split["holdout3"]
    # holdout3's negative situations stay none lines
    labels = {label for _, label, group in pairs if group.startswith("holdout3:negative.")}
    assert labels == {NONE}
    assert any(group.startswith("holdout3:negative.item_trade:") for _, _, group in pairs)
    assert any(group.startswith("benign:") for _, _, group in pairs)


def test_choose_threshold_caps_flagged_none_lines() -> None:
    classes = (NONE, "secrecy")
    model = IndicatorModel(classes, np.zeros((2, 3), np.float32), np.zeros(2, np.float32), 0.5, 6)
    # 10 secrecy lines with p 0.3-0.95; 100 none lines, 3 of them at p 0.62, 2 at p 0.82
    secrecy = np.linspace(0.3, 0.95, 10)
    none = np.concatenate([np.full(95, 0.1), np.full(3, 0.62), np.full(2, 0.82)])
    p = np.concatenate([secrecy, none]).astype(np.float32)
    probabilities = np.stack([1 - p, p], axis=1)
    labels = ["secrecy"] * 10 + [NONE] * 100
    threshold, scores = choose_threshold(model, probabilities, labels)
    # at 0.6 five none lines (5 %) are flagged, over MAX_NONE_FLAGGED (4 %); at 0.65 two
    assert MAX_NONE_FLAGGED == 0.04
    assert threshold == 0.65
    assert scores["none_flagged"] == 0.02
    assert scores["recall"] == 0.5  # p >= 0.65: 0.661, 0.733, 0.806, 0.878, 0.95


def test_prior_shift_moves_only_the_bias(
    small_train: list[Conversation], monkeypatch: pytest.MonkeyPatch
) -> None:
    detector = PatternDetector()
    plain = fit_risk_model(small_train, detector)
    monkeypatch.setattr(calibration, "PRIOR_SHIFT", {"pattern": math.log(0.375)})
    shifted = fit_risk_model(small_train, detector)
    assert shifted.weights == plain.weights
    assert shifted.bias == pytest.approx(plain.bias + math.log(0.375), abs=1e-5)
    # a score of 0.8 becomes 0.6 (the review threshold): odds times 0.375
    assert calibration.PRIOR_SHIFT["pattern"] == pytest.approx(
        math.log(0.6 / 0.4) - math.log(0.8 / 0.2), abs=1e-9
    )


def test_unknown_writer_is_refused() -> None:
    with pytest.raises(ValueError, match="held writer"):
        fit_models(object(), PatternDetector(), "train")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="held writer"):
        leave_one_writer_out("eval", object(), PatternDetector())  # type: ignore[arg-type]


def test_packaged_prior_shift_per_detector() -> None:
    # round 13: ln 0.06 on the embedding path (round 12: ln 0.05, round 11: ln 0.075, round 10:
    # ln 0.06, round 9: ln 0.2, round 8: ln 0.25, rounds 6-7: ln 0.375); a score of 25/26
    # (0.962) becomes 0.6
    shift = calibration.PRIOR_SHIFT["embedding"]
    assert shift == pytest.approx(math.log(0.06), abs=1e-12)
    odds = (25 / 26) / (1 / 26) * math.exp(shift)
    assert odds / (1 + odds) == pytest.approx(0.6, abs=1e-12)
    assert "pattern" not in calibration.PRIOR_SHIFT


def test_embedding_prefix_samples_start_at_one_behaviour(small_train: list[Conversation]) -> None:
    # round 9: the embedding path's risk model also reads grooming prefixes in which the
    # groomer shows one behaviour so far; the pattern path keeps two (rounds 3-8)
    assert calibration.MIN_PREFIX_BY_DETECTOR == {"embedding": 1}
    assert calibration.MIN_PREFIX_INDICATORS == 2
    detector = PatternDetector()
    distinct = calibration.FEATURE_NAMES.index("distinct_indicators")
    x2, y2 = calibration.sender_samples(small_train, detector, calibration.PREFIXES, 2)
    x1, y1 = calibration.sender_samples(small_train, detector, calibration.PREFIXES, 1)
    assert (len(x2), int(y2.sum())) == (255, 135)
    assert (len(x1), int(y1.sum())) == (276, 156)
    # the 21 extra samples are groomers' prefixes with exactly one behaviour
    assert int((x1[:, distinct] == 1).sum()) - int((x2[:, distinct] == 1).sum()) == 21
