"""The trainable classifier: train, save, load (versioned JSON), score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safehold.errors import InvalidInputError
from safehold.grooming.classifier import GroomingClassifier
from safehold.grooming.model import Conversation
from safehold.grooming.patterns import PatternDetector
from safehold.grooming.scoring import score_conversation
from safehold.grooming.synthetic import SyntheticOptions, generate


@pytest.fixture(autouse=True)
def _needs_sklearn() -> None:
    pytest.importorskip("sklearn")


def test_train_save_load_score(small_train: list[Conversation], tmp_path: Path) -> None:
    detector = PatternDetector()
    model = GroomingClassifier.train(small_train, detector)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = GroomingClassifier.load(path)
    assert loaded.label == model.label
    document = json.loads(path.read_text())
    assert (document["format"], document["version"]) == ("safehold-grooming-classifier", 1)
    test = generate("dev", SyntheticOptions(10, 10, seed=3))
    risks = [score_conversation(c, detector, classifier=loaded) for c in test]
    grooming = [r.score for r, c in zip(risks, test, strict=True) if c.label and c.label.grooming]
    other = [r.score for r, c in zip(risks, test, strict=True) if c.label and not c.label.grooming]
    # ranking (AUC): round 4's varied train/dev wording leaves a pair or two out of order
    ordered = sum(g > o for g in grooming for o in other) / (len(grooming) * len(other))
    assert ordered >= 0.9
    assert risks[0].model.endswith(loaded.label)


def test_monitor_with_classifier_matches_batch(small_train: list[Conversation]) -> None:
    from safehold.grooming.scoring import ConversationMonitor

    detector = PatternDetector()
    model = GroomingClassifier.train(small_train, detector)
    conv = generate("dev", SyntheticOptions(1, 0, seed=4))[0]
    monitor = ConversationMonitor(
        conv.id, detector=detector, participants=conv.participants, classifier=model
    )
    for message in conv.messages:
        streamed, _ = monitor.append([message])
    batch = score_conversation(conv, detector, classifier=model)
    assert streamed.score == batch.score
    assert [s.sender for s in streamed.senders] == [s.sender for s in batch.senders]


def test_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"format": "safehold-grooming-classifier", "version": 99}')
    with pytest.raises(InvalidInputError, match="version 99"):
        GroomingClassifier.load(path)
    path.write_text("not json")
    with pytest.raises(InvalidInputError, match="not a grooming classifier"):
        GroomingClassifier.load(path)
    path.write_text('{"format": "safehold-grooming-classifier", "version": 1}')
    with pytest.raises(InvalidInputError, match="damaged"):
        GroomingClassifier.load(path)


def test_needs_both_classes(small_train: list[Conversation]) -> None:
    negatives = [c for c in small_train if c.label and not c.label.grooming]
    with pytest.raises(InvalidInputError, match="both"):
        GroomingClassifier.train(negatives, PatternDetector())
