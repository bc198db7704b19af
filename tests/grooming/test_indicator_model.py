"""The learned indicator model: the packaged file loads and is validated, scores are
deterministic, held-out paraphrases (written here, in none of the templates or examples) get
their indicator, and near misses that share surface words stay clean."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Detector
from safehold.grooming.embedding import load_examples
from safehold.grooming.indicator_fit import indicator_pairs
from safehold.grooming.indicator_model import NONE, IndicatorModel, load_indicator_model
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
