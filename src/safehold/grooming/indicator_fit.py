"""Fit the learned indicator model offline and write ``data/indicator_model.json``.

Run ``python -m safehold.grooming.indicator_fit`` (needs ``safehold[embeddings,grooming]``)
after changing the synthetic templates or ``data/examples.toml``; then refit the risk model
(``python -m safehold.grooming.calibration``). It reads only the ``train`` and ``dev`` splits:

* training pairs (:func:`indicator_pairs`): every ``A`` line of a grooming bank of ``train``
  labelled with the bank's indicator; ``B`` lines, negative situations, small talk and the
  ``chatterbot-corpus`` train lines labelled ``none``; plus the positive and near-miss examples
  of ``data/examples.toml``; each line also once obfuscated (:func:`~.synthetic.obfuscate`),
  as chat is typed;
* the regularisation ``C`` and the decision threshold are chosen on ``dev``'s pairs (the best
  per-line recall with at most :data:`MAX_NONE_FLAGGED` of the ``none`` lines flagged);
  ``eval``, ``holdout`` and any later blind split are never read.

``--cv`` also prints a cross-phrasing estimate: 5 folds over train + dev with every template
(all its lines and variants) in one fold only, so each fold is scored on phrasings it never
saw. The fit is scikit-learn's multinomial logistic regression (L-BFGS, L2, balanced class
weights; deterministic).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.grooming.indicator_model import NONE, PACKAGED, IndicatorModel
from safehold.grooming.normalize import normalize
from safehold.grooming.synthetic import obfuscate, template_lines

#: Indicators the model learns: the embedding detector's (facts stay with the patterns).
SKIPPED = ("age_gap", "minor_age_disclosed", "adult_inclusion", "family_relation")
#: Negative banks left out of the line model (round 5): their lines show the behaviours on
#: purpose (a relative asks for a photo of the jumper, a friend asks if the parents are home),
#: and the conversation's context (family, peers) is what makes them benign, which the risk
#: model reads (``features``), not the line. As ``none`` lines they moved the chosen threshold
#: 0.7 -> 0.75 and cost line recall on dev (0.79 -> 0.76).
CONTEXT_BANKS = ("negative.relatives", "negative.friends")
#: Grid of the inverse L2 strength and of the threshold, searched on dev.
C_GRID = (0.5, 2.0, 8.0)
THRESHOLD_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))
MIN_WORDS = 3
#: The chosen (C, threshold) has the best dev line recall among those that flag at most this
#: share of dev's ``none`` lines. Recall sets how early the second behaviour is seen (the
#: warning comes there); the cap bounds false positives. Line F0.5 picked 0.8, which missed a
#: third of dev's lines (docs/grooming.md).
MAX_NONE_FLAGGED = 0.04


def indicator_pairs(
    split: str,
    examples: dict[str, dict[str, list[str]]] | None = None,
    augment: bool = False,
    benign: bool = True,
) -> list[tuple[str, str, str]]:
    """Labelled lines of ``split``: ``(normalised text, class, group)``.

    ``group`` names the template a line came from (for cross-validation by phrasing). Lines
    under three words are left out (the detector does not score them). ``examples`` (an
    examples table) adds its positives and near misses; ``augment`` adds one obfuscated copy
    of each line (fixed seed); ``benign`` adds the split's ``chatterbot-corpus`` lines as
    ``none`` (varied everyday wording: small talk must not drift towards an indicator).
    """
    raw: list[tuple[str, str, str]] = []
    for n, line in enumerate(template_lines(split)):
        kind, _, name = line.bank.partition(".")
        if line.bank in CONTEXT_BANKS:
            continue
        if kind == "grooming" and name in SKIPPED and line.speaker == "A":
            continue
        label = name if kind == "grooming" and line.speaker == "A" else NONE
        raw.append((line.text, label, f"{split}:{line.bank}:{n}"))
    if benign:
        from safehold.grooming.benign import chatterbot_conversations

        lines = dict.fromkeys(m.text for c in chatterbot_conversations(split) for m in c.messages)
        raw.extend((t, NONE, f"chatterbot:{t}") for t in lines)
    for name, table in (examples or {}).items():
        for key, label in (("positive", name), ("negative", NONE)):
            raw.extend((t, label, f"examples:{name}:{key}:{t}") for t in table.get(key, []))
    rng = random.Random(0)
    if augment:
        raw += [(obfuscate(rng, text), label, group) for text, label, group in raw]
    out = []
    for text, label, group in raw:
        if len(text.split()) >= MIN_WORDS:
            out.append((normalize(text, plain=False) or ".", label, group))
    return out


def fit(
    vectors: NDArray[np.float32], labels: Sequence[str], c: float, classes: Sequence[str]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Multinomial logistic regression; returns (weights (k, dim), bias (k,)) in ``classes``
    order (every class must occur in ``labels``)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(vectors, list(labels))
    order = [list(model.classes_).index(name) for name in classes]
    return model.coef_[order].astype(np.float32), model.intercept_[order].astype(np.float32)


def line_scores(
    model: IndicatorModel, probabilities: NDArray[np.float32], labels: Sequence[str]
) -> dict[str, float]:
    """Per-line precision, recall, F0.5 and none-line false-positive rate, from the class
    ``probabilities`` (n, classes) of lines labelled ``labels`` and ``model``'s threshold.

    A line is a true positive when its own indicator is present (strength >= 0.5); a false
    positive is any present indicator other than the line's own.
    """
    strength = model.strengths(probabilities)
    present = strength >= 0.5
    index = {name: k for k, name in enumerate(model.classes)}
    none = index[NONE]
    present[:, none] = False
    tp = fp = fn = none_hit = nones = 0
    for row, label in zip(present, labels, strict=True):
        own = index[label]
        if label == NONE:
            nones += 1
            none_hit += bool(row.any())
        else:
            tp += bool(row[own])
            fn += not row[own]
        fp += int(row.sum()) - (int(row[own]) if label != NONE else 0)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f05 = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f05": round(f05, 4),
        "none_flagged": round(none_hit / nones, 4) if nones else 0.0,
    }


def _encoder() -> Any:
    from safehold.grooming.embedding import EmbeddingDetector

    return EmbeddingDetector(scoring="examples")


def main(argv: list[str] | None = None) -> int:
    """Fit on train, choose C and the threshold on dev, write the packaged model; ``--cv``
    also prints the cross-phrasing estimate."""
    from safehold.grooming.embedding import load_examples

    args = argv if argv is not None else sys.argv[1:]
    encoder = _encoder()
    train = indicator_pairs("train", load_examples(), augment=True)
    dev = indicator_pairs("dev", augment=True)
    x_train = encoder.embed([t for t, _, _ in train])
    x_dev = encoder.embed([t for t, _, _ in dev])
    y_train, y_dev = [c for _, c, _ in train], [c for _, c, _ in dev]
    classes = (NONE, *sorted(set(y_train) - {NONE}))
    best: tuple[float, IndicatorModel, dict[str, float]] | None = None
    for c in C_GRID:
        weights, bias = fit(x_train, y_train, c, classes)
        for t in THRESHOLD_GRID:
            model = IndicatorModel(classes, weights, bias, t, encoder.layers, "")
            scores = line_scores(model, model.probabilities(x_dev), y_dev)
            print(f"C={c} T={t}: dev {scores}", file=sys.stderr)
            if scores["none_flagged"] <= MAX_NONE_FLAGGED and (
                best is None or scores["recall"] > best[0]
            ):
                best = (scores["recall"], model, {"C": c, **scores})
    assert best is not None
    trained_on = f"synthetic train templates + examples.toml; C, threshold on dev: {best[2]}"
    chosen = replace(best[1], trained_on=trained_on)
    target = Path(__file__).parent / PACKAGED
    target.write_text(json.dumps(chosen.to_dict()) + "\n")
    print(f"chosen T={chosen.threshold}: {best[2]} -> {target}", file=sys.stderr)
    if "--cv" in args:
        print(
            f"cross-phrasing 5-fold: {cross_phrasing(encoder, best[2]['C'], chosen.threshold)}",
            file=sys.stderr,
        )
    return 0


def cross_phrasing(encoder: Any, c: float, threshold: float, folds: int = 5) -> dict[str, float]:
    """Per-line scores pooled over ``folds`` folds of train + dev lines, grouped by template.

    Returns :func:`line_scores`'s keys, over every line scored by the fold that did not see
    its template.
    """
    pairs = indicator_pairs("train", augment=True) + indicator_pairs("dev", augment=True)
    vectors = encoder.embed([t for t, _, _ in pairs])
    labels = [label for _, label, _ in pairs]
    groups = sorted({g for _, _, g in pairs})
    rng = random.Random(0)
    rng.shuffle(groups)
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    fold = np.array([fold_of[g] for _, _, g in pairs])
    classes = (NONE, *sorted(set(labels) - {NONE}))
    probabilities = np.zeros((len(pairs), len(classes)), dtype=np.float32)
    model = None
    for f in range(folds):
        weights, bias = fit(
            vectors[fold != f], [y for y, k in zip(labels, fold, strict=True) if k != f], c, classes
        )
        model = IndicatorModel(classes, weights, bias, threshold, encoder.layers)
        probabilities[fold == f] = model.probabilities(vectors[fold == f])
    assert model is not None
    return line_scores(model, probabilities, labels)


if __name__ == "__main__":
    raise SystemExit(main())
