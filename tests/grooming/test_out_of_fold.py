"""Out-of-fold indicator hits (round 5): the risk model of the embedding path is fitted on hits
from indicator models that did not see the message's template line."""

from __future__ import annotations

import numpy as np
import pytest

from safehold.grooming.calibration import fitting_detector
from safehold.grooming.detector import Detector
from safehold.grooming.embedding import EmbeddingDetector
from safehold.grooming.features import PRESENT
from safehold.grooming.model import Conversation
from safehold.grooming.out_of_fold import (
    ReplayDetector,
    out_of_fold_detector,
    prototype_memory,
)
from safehold.grooming.patterns import PatternDetector

_CONTEXT = {"minor_age_disclosed", "adult_inclusion", "family_relation", "age_gap", "age_probing"}


def test_pattern_detector_is_fitted_on_its_own_hits(
    pattern_detector: PatternDetector, small_train: list[Conversation]
) -> None:
    assert fitting_detector(pattern_detector, small_train) is pattern_detector


@pytest.mark.slow
def test_out_of_fold_hits(embedding_detector: Detector, small_train: list[Conversation]) -> None:
    assert isinstance(embedding_detector, EmbeddingDetector)
    oof = fitting_detector(embedding_detector, small_train)
    assert isinstance(oof, ReplayDetector)
    assert oof.name == "embedding"
    groomer_lines = [
        m.text
        for c in small_train
        if c.label and c.label.grooming
        for m in c.messages
        if m.sender in c.label.groomers and len(m.text.split()) >= 3
    ]
    texts = list(dict.fromkeys(m.text for c in small_train for m in c.messages))
    own = dict(zip(texts, embedding_detector.detect(texts), strict=True))
    out = dict(zip(texts, oof.detect(texts), strict=True))
    # pattern hits (context, age questions) are the detector's own, unchanged
    for text in texts:
        assert {h for h in out[text] if not h.evidence.startswith("model:")} == {
            h for h in own[text] if not h.evidence.startswith("model:")
        }, text

    def found(table: dict[str, list]) -> int:  # type: ignore[type-arg]
        return sum(
            any(h.strength >= PRESENT and h.indicator not in _CONTEXT for h in table[t])
            for t in groomer_lines
        )

    # the fold models never saw the line's template: they find fewer behaviours than the
    # packaged model, which was fitted on these very lines, but still most of them
    assert found(out) < found(own)
    assert found(out) > 0.5 * found(own)
    # texts outside the training conversations go to the detector itself
    unseen = "what did you think of the school play last week"
    assert oof.detect([unseen]) == embedding_detector.detect([unseen])


def test_out_of_fold_needs_the_learned_model(small_train: list[Conversation]) -> None:
    class _NoModel(EmbeddingDetector):
        def __init__(self) -> None:  # no encoder needed to reach the check
            self.indicator_model = None

    with pytest.raises(ValueError, match="learned indicator model"):
        out_of_fold_detector(_NoModel(), small_train)


def test_prototype_memory_compresses_only_classes_over_budget() -> None:
    # class 0: four lines in two tight pairs around (1, 0) and (0, 1); class 1: one line
    vectors = np.array(
        [[1.0, 0.0], [0.98, 0.2], [0.0, 1.0], [0.2, 0.98], [0.6, 0.8]], dtype=np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([0, 0, 0, 0, 1])
    memory, memory_class = prototype_memory(vectors, labels, (2, 0))
    assert memory_class.tolist() == [0, 0, 1]
    # two unit-length centroids, one per pair, at 5.7 degrees from each of its lines
    assert np.linalg.norm(memory, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    near_x = memory[np.argmax(memory[:2, 0])]
    assert near_x == pytest.approx([0.9950, 0.0995], abs=1e-3)
    assert memory[2] == pytest.approx([0.6, 0.8], abs=1e-6)  # within budget: kept as is
    # budget 0 (or over the count) keeps every row
    kept, kept_class = prototype_memory(vectors, labels, (0, 0))
    assert kept_class.tolist() == [0, 0, 0, 0, 1]
    assert np.array_equal(kept, vectors)
