"""The learned indicator model: the packaged file loads and is validated, scores are
deterministic, held-out paraphrases (written here, in none of the templates or examples) get
their indicator, and near misses that share surface words stay clean."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector
from safehold.grooming.embedding import load_examples
from safehold.grooming.indicator_fit import LINE_NEIGHBOUR_WEIGHT, LINE_NEIGHBOURS, indicator_pairs
from safehold.grooming.indicator_model import (
    NONE,
    IndicatorModel,
    load_indicator_model,
    with_memory,
)
from safehold.grooming.out_of_fold import memory_rows
from safehold.grooming.synthetic import load_templates, template_lines

#: indicator -> (paraphrases, near misses). Written for this test in wording the templates,
#: examples and patterns do not use (checked below), without looking at the model's scores.
HELD_OUT: dict[str, tuple[list[str], list[str]]] = {
    "age_probing": (
        ["what birthday are you celebrating next", "are you in sixth or seventh grade"],
        ["how old is that castle", "what year did the film come out"],
    ),
    "flattery": (
        ["you're the most grown up kid i've ever chatted with", "honestly you're perfect"],
        ["the cake you baked was perfect", "great save in goal today"],
    ),
    "gifts": (
        [
            "i'll put twenty dollars on your games account",
            "pick any outfit in the shop and i'll pay",
        ],
        ["the shop has outfits on sale", "grandad paid for the cinema tickets"],
    ),
    "supervision_check": (
        ["is your mother likely to walk in on you", "are you the only one in the house"],
        ["is the shop open on sunday", "my mother is visiting next week"],
    ),
    "secrecy": (
        ["nobody can ever hear about the two of us", "wipe this conversation afterwards"],
        ["shh the gift for dad is hidden in the garage", "the ending of the film is a secret"],
    ),
    "isolation": (
        ["your classmates are fake, i'm the real friend", "your mum will never understand you"],
        ["your classmates seem lovely", "your mum was so proud at the show"],
    ),
    "platform_move": (
        ["let's carry on this chat in a private app", "what's your handle on another site"],
        ["the class shares notes on the school site", "the team posts results on its page"],
    ),
    "desensitisation": (
        [
            "loads of girls your age are doing this already",
            "there's no need to feel weird about it",
        ],
        ["it's fine to feel sad sometimes", "lots of kids your age play chess"],
    ),
    "sexualising": (
        ["has a boy ever kissed you", "do you have someone you're going out with"],
        ["the prince kissed the frog in the story", "what are you wearing for the school play"],
    ),
    "image_request": (
        ["could you snap a picture of yourself for me", "i want to see you on video tonight"],
        ["snap a picture of the bus timetable", "the video of the match is online"],
    ),
    "meeting": (
        ["which street is your house on", "let's get together somewhere, only us two"],
        ["the street party is on saturday", "the team gets together at the pitch at nine"],
    ),
    "pressure_threats": (
        ["reply right now or everyone sees your chats", "you'd better do it or you'll be sorry"],
        ["reply when you're free, no hurry", "you'd better bring a coat, it's cold"],
    ),
}
#: Measured on the table above (round 4, docs/grooming.md): the shipped model finds 15 of 24
#: paraphrases (strength >= 0.5) and keeps 23 of 24 near misses clean (a fit with threshold
#: 0.65 found 16 and kept 22); the tests keep them from regressing.
MIN_RECALL = 0.6
MIN_REJECTION = 0.9


def _present(detector: Detector, text: str) -> set[str]:
    return {h.indicator for h in detector.detect([text])[0] if h.strength >= 0.5}


def test_packaged_model_loads() -> None:
    model = load_indicator_model()
    assert model.classes[0] == NONE
    assert set(model.classes[1:]) == set(load_examples())
    assert model.weights.shape == (len(model.classes), 384)
    assert 0.0 < model.threshold < 1.0
    assert model.layers == 6
    assert model.version.startswith("im-")
    assert len(model.version) == 15


def test_round_trip_and_validation() -> None:
    model = load_indicator_model()
    again = IndicatorModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.version == model.version
    document = model.to_dict()
    with pytest.raises(ConfigurationError, match="not a safehold"):
        IndicatorModel.from_dict({**document, "format": "other"})
    with pytest.raises(ConfigurationError, match="version"):
        IndicatorModel.from_dict({**document, "version": 99})
    with pytest.raises(ConfigurationError):
        IndicatorModel.from_dict({**document, "classes": [NONE, "no_such_indicator"]})
    with pytest.raises(ConfigurationError, match="disagree"):
        IndicatorModel.from_dict({**document, "bias": document["bias"][:-1]})
    with pytest.raises(ConfigurationError, match="threshold"):
        IndicatorModel.from_dict({**document, "threshold": 1.5})
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_indicator_model("{")


def test_strength_ramp_puts_the_threshold_at_present() -> None:
    model = IndicatorModel(
        (NONE, "secrecy"), np.zeros((2, 4), np.float32), np.zeros(2, np.float32), 0.8, 6
    )
    p = np.array([[0.0, 0.4, 0.8, 0.9, 1.0]], dtype=np.float32)
    # 0.5 * p / T below T; 0.5 + 0.5 * (p - T) / (1 - T) above
    assert model.strengths(p)[0].tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    # equal logits: each class has p = 0.5, strength 0.5 * 0.5 / 0.8 = 0.3125 (kept, weak)
    [[hit]] = model.detect(np.ones((1, 4), np.float32) / 2)
    assert (hit.indicator, hit.strength, hit.evidence) == ("secrecy", 0.3125, "model: p=0.50")
    with pytest.raises(ValueError, match="shape"):
        model.probabilities(np.ones((1, 3), np.float32))


def test_held_out_wording_is_new() -> None:
    seen = {line.text.lower() for s in ("train", "dev") for line in template_lines(s)}
    seen |= {t for table in load_examples().values() for v in table.values() for t in v}
    assert set(HELD_OUT) == set(load_examples())
    for positives, near in HELD_OUT.values():
        assert not seen & set(positives + near)


def test_template_lines_label_every_line() -> None:
    lines = template_lines("dev")
    banks = {line.bank for line in lines}
    assert {"grooming.secrecy", "negative.family", "smalltalk"} <= banks
    assert {line.speaker for line in lines} == {"A", "B"}
    assert not any("{" in line.text for line in lines)
    dev = sum(len(b.get("dev", [])) for b in load_templates()["grooming"].values())
    assert sum(1 for ln in lines if ln.bank.startswith("grooming.")) >= dev


def test_pairs_label_grooming_a_lines_only() -> None:
    pairs = indicator_pairs("dev", benign=False)
    labels = {label for _, label, _ in pairs}
    assert {NONE, "secrecy"} <= labels
    assert "age_gap" not in labels
    assert all(len(text.split()) >= 3 for text, _, _ in pairs)


def test_held_out_paraphrases_and_near_misses(embedding_detector: Detector) -> None:
    if getattr(embedding_detector, "indicator_model", None) is None:
        pytest.skip("the embedding detector is not scoring with the learned model")
    found = fired = 0
    misses: list[str] = []
    for name, (positives, near) in HELD_OUT.items():
        hits = [name in _present(embedding_detector, t) for t in positives]
        found += sum(hits)
        misses += [t for t, h in zip(positives, hits, strict=True) if not h]
        wrong = [bool(_present(embedding_detector, t) - {"minor_age_disclosed"}) for t in near]
        fired += sum(wrong)
        misses += [f"near miss: {t}" for t, w in zip(near, wrong, strict=True) if w]
    assert found / sum(len(p) for p, _ in HELD_OUT.values()) >= MIN_RECALL, misses
    assert 1 - fired / sum(len(n) for _, n in HELD_OUT.values()) >= MIN_REJECTION, misses


def test_deterministic(embedding_detector: Detector) -> None:
    texts = [p for p, _ in HELD_OUT.values() for p in p]
    assert embedding_detector.detect(texts) == embedding_detector.detect(texts)
    assert "-im-" in embedding_detector.version


def _memory_model(weight: float = 10.0, neighbours: int = 2) -> IndicatorModel:
    """Three classes over 2-d unit vectors, zero linear weights, four memory lines."""
    base = IndicatorModel(
        (NONE, "secrecy", "gifts"), np.zeros((3, 2), np.float32), np.zeros(3, np.float32), 0.6, 6
    )
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]], dtype=np.float32)
    # given out of class order: secrecy, none, secrecy, none
    return with_memory(base, vectors, np.array([1, 0, 1, 0]), weight, neighbours)


def test_neighbour_memory_scores_by_nearest_lines() -> None:
    model = _memory_model()
    # rows regrouped by class: none [0, 1], [0.8, 0.6]; secrecy [1, 0], [0.6, 0.8]
    assert model.memory_class is not None
    assert model.memory_class.tolist() == [0, 0, 1, 1]
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    similarity = model.neighbour_similarity(query)
    # none: mean(0, 0.8) = 0.4; secrecy: mean(1, 0.6) = 0.8; gifts has no memory lines: 0
    assert similarity[0].tolist() == pytest.approx([0.4, 0.8, 0.0], abs=0.01)
    # logits 10 * (0.4, 0.8, 0): softmax
    logits = np.array([4.0, 8.0, 0.0])
    expected = np.exp(logits) / np.exp(logits).sum()
    assert model.probabilities(query)[0].tolist() == pytest.approx(expected.tolist(), abs=0.01)
    # one neighbour: the nearest line only (none 0.8, secrecy 1.0)
    one = replace(model, neighbours=1)
    assert one.neighbour_similarity(query)[0].tolist() == pytest.approx([0.8, 1.0, 0.0], abs=0.01)
    # weight 0: the plain softmax (all logits 0)
    plain = replace(model, neighbour_weight=0.0)
    assert plain.probabilities(query)[0].tolist() == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_neighbour_memory_round_trips_through_json() -> None:
    model = _memory_model()
    document = json.loads(json.dumps(model.to_dict()))
    assert document["version"] == 2
    assert document["memory"]["rows"] == 4
    assert document["memory"]["class"] == [0, 0, 1, 1]
    again = IndicatorModel.from_dict(document)
    assert again.version == model.version
    assert again.neighbour_weight == 10.0
    assert again.neighbours == 2
    assert again.memory is not None
    assert model.memory is not None
    assert np.abs(again.memory - model.memory).max() < 1e-6
    # a different memory weight is a different model version
    assert replace(model, neighbour_weight=5.0).version != model.version
    # a version 1 document (no memory) still loads as a plain softmax model
    plain = {k: v for k, v in document.items() if k != "memory"}
    old = IndicatorModel.from_dict({**plain, "version": 1})
    assert old.memory is None
    assert old.neighbour_weight == 0.0
    with pytest.raises(ConfigurationError, match="disagree"):
        IndicatorModel.from_dict({**document, "memory": {**document["memory"], "rows": 3}})
    with pytest.raises(ConfigurationError, match="grouped by class"):
        IndicatorModel.from_dict(
            {**document, "memory": {**document["memory"], "class": [1, 1, 0, 0]}}
        )
    with pytest.raises(ConfigurationError, match="out of range"):
        IndicatorModel.from_dict(
            {**document, "memory": {**document["memory"], "class": [0, 0, 1, 7]}}
        )
    with pytest.raises(ConfigurationError, match="bad memory"):
        IndicatorModel.from_dict({**document, "memory": {"rows": 4}})


def test_with_memory_checks_its_input() -> None:
    base = IndicatorModel((NONE, "secrecy"), np.zeros((2, 2), np.float32), np.zeros(2), 0.6, 6)
    with pytest.raises(ValueError, match="disagree"):
        with_memory(base, np.zeros((3, 4), np.float32), np.zeros(3, np.int64), 1.0, 5)
    with pytest.raises(ValueError, match="out of range"):
        with_memory(base, np.zeros((1, 2), np.float32), np.array([2]), 1.0, 5)
    with pytest.raises(ValueError, match="neighbours"):
        with_memory(base, np.zeros((1, 2), np.float32), np.array([1]), 1.0, 0)


def test_memory_rows_keep_written_lines_or_all() -> None:
    pairs = [("a b c", NONE, "g1"), ("d e f", "secrecy", "g2"), ("a b c!", NONE, "g1")]
    assert memory_rows(pairs, originals_only=True).tolist() == [True, True, False]
    assert memory_rows(pairs, originals_only=False).tolist() == [True, True, True]


def test_packaged_model_carries_its_memory() -> None:
    model = load_indicator_model()
    assert model.memory is not None
    assert model.memory_class is not None
    assert model.neighbour_weight == LINE_NEIGHBOUR_WEIGHT
    assert model.neighbours == LINE_NEIGHBOURS
    # every learned indicator has memory lines, and the rows are unit vectors (int8-rounded)
    assert set(model.memory_class.tolist()) == set(range(len(model.classes)))
    norms = np.linalg.norm(model.memory, axis=1)
    assert np.abs(norms - 1.0).max() < 0.01
