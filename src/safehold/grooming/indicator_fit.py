"""Fit the learned indicator model offline and write ``data/indicator_model.json``.

Run ``python -m safehold.grooming.indicator_fit`` (needs ``safehold[embeddings,grooming]``)
after changing the synthetic templates, ``data/benign_lines.toml`` or ``data/examples.toml``;
then refit the risk model (``python -m safehold.grooming.calibration``). Round 6 recipe, with
round 8's changes (docs/grooming.md, "Round 6" and "Round 8", chosen leaving one template
writer out, :mod:`.writers`):

* training pairs (:func:`line_pairs`): every ``A`` line of a grooming bank of the
  :data:`POSITIVE_SPLITS` (round 8: every seen split; rounds 6-7: the four ``synthetic.toml``
  splits) labelled with the bank's indicator; ``B`` lines, negative situations, small talk and
  the ``chatterbot-corpus`` train and dev lines labelled ``none``, from every seen split
  (:data:`~.calibration.FIT_SPLITS`); the benign lines of ``data/benign_lines.toml``
  (:data:`BENIGN_TOPICS`); the positive and near-miss examples of ``data/examples.toml``; each
  line also once obfuscated (:func:`~.synthetic.obfuscate`);
* ``C`` is :data:`LINE_C`; round 8 adds the neighbour memory (the training pairs' embeddings,
  :data:`LINE_NEIGHBOUR_WEIGHT`, :data:`LINE_NEIGHBOURS`;
  :attr:`~.indicator_model.IndicatorModel.memory`); the decision threshold is chosen out of
  fold (5 folds by template line, :func:`~.out_of_fold.fit_folds`, each fold model with the
  memory of its own pairs): the best per-line recall with at most :data:`MAX_NONE_FLAGGED` of
  the ``none`` lines flagged (:func:`choose_threshold`). ``--cv`` prints those out-of-fold
  line scores.

Blind splits are never read (the allow-list :data:`~.calibration.SEEN_SPLITS`). The fit is
scikit-learn's multinomial logistic regression (L-BFGS, L2, balanced class weights;
deterministic).
"""

from __future__ import annotations

import json
import random
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.grooming.calibration import SEEN_SPLITS
from safehold.grooming.indicator_model import NONE, PACKAGED, IndicatorModel, with_memory
from safehold.grooming.indicators import PATTERN_ONLY
from safehold.grooming.normalize import normalize
from safehold.grooming.synthetic import obfuscate, template_lines

#: Indicators the model learns: the embedding detector's (facts stay with the patterns).
SKIPPED = PATTERN_ONLY
#: Negative banks left out of the line model (round 5): their lines show the behaviours on
#: purpose (a relative asks for a photo of the jumper, a friend asks if the parents are home),
#: and the conversation's context (family, peers) is what makes them benign, which the risk
#: model reads (``features``), not the line. As ``none`` lines they moved the chosen threshold
#: 0.7 -> 0.75 and cost line recall on dev (0.79 -> 0.76). Round 6 keeps them
#: (:data:`LINE_SKIP_BANKS`); this stays :func:`indicator_pairs`'s default.
CONTEXT_BANKS = ("negative.relatives", "negative.friends")
#: Inverse L2 strength of the line model (chosen on dev in rounds 4-5 from 0.5, 2, 8).
LINE_C = 8.0
#: Thresholds searched (out of fold since round 6; on dev in rounds 4-5; round 8 adds 0.93-0.99:
#: the neighbour logits make probabilities peakier, and 0.9 was chosen at the grid's edge).
THRESHOLD_GRID = (*(round(0.3 + 0.05 * i, 2) for i in range(13)), 0.93, 0.95, 0.97, 0.98, 0.99)
MIN_WORDS = 3
#: The chosen (C, threshold) has the best dev line recall among those that flag at most this
#: share of dev's ``none`` lines. Recall sets how early the second behaviour is seen (the
#: warning comes there); the cap bounds false positives. Line F0.5 picked 0.8, which missed a
#: third of dev's lines (docs/grooming.md).
MAX_NONE_FLAGGED = 0.04
#: Benign chat lines (round 6), ``none`` only: ``data/benign_lines.toml``.
BENIGN_LINES = "data/benign_lines.toml"
#: Its topics the packaged line model is fitted with (docs/grooming.md, "Round 6").
BENIGN_TOPICS = ("small_talk", "adult_small_talk", "benign_behaviours")
#: Splits whose grooming lines are positives. Round 6: the ``synthetic.toml`` writer's only
#: (leaving one writer out, adding holdout3's grooming lines flagged 7-11 % of holdout2's
#: negatives against 2 % without them). Round 8: every seen split, each writer's negatives,
#: small talk and replies staying ``none`` lines, together with the neighbour memory
#: (:data:`LINE_NEIGHBOUR_WEIGHT`; docs/grooming.md, "Round 8").
POSITIVE_SPLITS = SEEN_SPLITS
#: Weight of the neighbour similarity in the line model's logits
#: (:attr:`~.indicator_model.IndicatorModel.neighbour_weight`; round 8, chosen leaving one
#: writer out from 0 (rounds 4-7), 5, 10, 20 and 40; 40 flagged 2.25 % of the held writers'
#: negatives; docs/grooming.md, "Round 8").
LINE_NEIGHBOUR_WEIGHT = 20.0
#: Nearest memory lines averaged per class (round 8; 3, 5 and 10 compared).
LINE_NEIGHBOURS = 5
#: The memory holds only the written lines, not their obfuscated copies (round 8:
#: :func:`~.out_of_fold.memory_rows`; the same figures as with the copies, half the rows).
MEMORY_ORIGINALS_ONLY = True
#: Memory rows kept per class (round 8): the ``none`` lines (about 3,000) become 256 k-means
#: prototypes (:func:`~.out_of_fold.prototype_memory`), so the neighbour search costs about
#: 1,200 dot products a message instead of 3,900 (the embedding path's throughput; the same
#: leave-one-writer-out figures); each indicator keeps its lines (70-90). 32 prototypes per
#: indicator as well flagged more (docs/grooming.md, "Round 8").
MEMORY_BUDGET = {NONE: 256}


def memory_budget(classes: Sequence[str]) -> tuple[int, ...]:
    """:data:`MEMORY_BUDGET` as rows per class index of ``classes`` (0: keep all)."""
    return tuple(MEMORY_BUDGET.get(name, 0) for name in classes)


#: Banks left out of the round 6 line model: none (the context banks' lines are ``none``;
#: leaving one writer out, keeping them did as well or better than :data:`CONTEXT_BANKS`).
LINE_SKIP_BANKS: tuple[str, ...] = ()


def indicator_pairs(
    split: str,
    examples: dict[str, dict[str, list[str]]] | None = None,
    augment: bool = False,
    benign: bool = True,
    skip_banks: tuple[str, ...] = CONTEXT_BANKS,
    positives: bool = True,
) -> list[tuple[str, str, str]]:
    """Labelled lines of ``split``: ``(normalised text, class, group)``.

    ``group`` names the template a line came from (for cross-validation by phrasing). Lines
    under three words are left out (the detector does not score them). ``examples`` (an
    examples table) adds its positives and near misses; ``augment`` adds one obfuscated copy
    of each line (fixed seed); ``benign`` adds the split's ``chatterbot-corpus`` lines as
    ``none`` (varied everyday wording: small talk must not drift towards an indicator; only
    for ``train`` and ``dev``: the benign ``eval`` part stays out of every fit, as
    ``chatterbot:eval`` is scored by the acceptance tests). Lines of the banks in ``skip_banks``
    are left out (default :data:`CONTEXT_BANKS`); ``positives`` False leaves out the grooming
    banks' ``A`` lines too (only the split's ``none`` lines).
    """
    raw: list[tuple[str, str, str]] = []
    for n, line in enumerate(template_lines(split)):
        kind, _, name = line.bank.partition(".")
        if line.bank in skip_banks:
            continue
        if kind == "grooming" and line.speaker == "A" and (name in SKIPPED or not positives):
            continue
        label = name if kind == "grooming" and line.speaker == "A" else NONE
        raw.append((line.text, label, f"{split}:{line.bank}:{n}"))
    if benign and split in ("train", "dev"):
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


def load_benign_lines() -> dict[str, list[str]]:
    """The packaged ``data/benign_lines.toml``: topic -> benign chat lines (round 6)."""
    text = resources.files("safehold.grooming").joinpath(BENIGN_LINES).read_text()
    topics: dict[str, list[str]] = tomllib.loads(text)["topics"]
    return topics


def benign_pairs(topics: Sequence[str] = BENIGN_TOPICS) -> list[tuple[str, str, str]]:
    """``none`` pairs from the named topics of :func:`load_benign_lines`, each line also once
    obfuscated (fixed seed), normalised as :func:`indicator_pairs` does."""
    table = load_benign_lines()
    raw = [(t, NONE, f"benign:{topic}:{t}") for topic in topics for t in table[topic]]
    rng = random.Random(1)
    raw += [(obfuscate(rng, text), label, group) for text, label, group in raw]
    return [
        (normalize(text, plain=False) or ".", label, group)
        for text, label, group in raw
        if len(text.split()) >= MIN_WORDS
    ]


def training_pairs(
    splits: Sequence[str] = ("train",),
    skip_banks: tuple[str, ...] = CONTEXT_BANKS,
    topics: Sequence[str] = (),
    none_only: Sequence[str] = (),
) -> list[tuple[str, str, str]]:
    """The line model's training pairs over ``splits`` (:func:`indicator_pairs`, each line
    also obfuscated), with the packaged examples table once, in ``splits`` order, then the
    benign lines of ``topics`` (:func:`benign_pairs`). Splits in ``none_only`` give their
    ``none`` lines only (their grooming lines are left out).

    ``("train",)`` without topics gives rounds 4-5's pairs; round 6 fits on every seen split
    (:data:`~.calibration.FIT_SPLITS`) with :data:`BENIGN_TOPICS`.
    """
    from safehold.grooming.embedding import load_examples

    out: list[tuple[str, str, str]] = []
    for n, split in enumerate(splits):
        examples = load_examples() if n == 0 else None
        out += indicator_pairs(
            split, examples, augment=True, skip_banks=skip_banks, positives=split not in none_only
        )
    return out + benign_pairs(topics)


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


def line_pairs(splits: Sequence[str]) -> list[tuple[str, str, str]]:
    """The round 6 line model's pairs over ``splits`` (:func:`training_pairs` with
    :data:`LINE_SKIP_BANKS`, :data:`BENIGN_TOPICS`, and ``none`` lines only from splits not in
    :data:`POSITIVE_SPLITS`)."""
    none_only = tuple(s for s in splits if s not in POSITIVE_SPLITS)
    return training_pairs(splits, LINE_SKIP_BANKS, BENIGN_TOPICS, none_only)


def choose_threshold(
    model: IndicatorModel, probabilities: NDArray[np.float32], labels: Sequence[str]
) -> tuple[float, dict[str, float]]:
    """The threshold of :data:`THRESHOLD_GRID` with the best line recall among those that flag
    at most :data:`MAX_NONE_FLAGGED` of the ``none`` lines (the highest one when none does),
    and :func:`line_scores` there.

    Args:
        probabilities: (n, classes) out-of-fold class probabilities of the labelled lines.
        labels: the lines' classes.
    """
    best: tuple[float, dict[str, float]] | None = None
    for t in THRESHOLD_GRID:
        scores = line_scores(replace(model, threshold=t), probabilities, labels)
        if scores["none_flagged"] <= MAX_NONE_FLAGGED and (
            best is None or scores["recall"] > best[1]["recall"]
        ):
            best = (t, scores)
    if best is None:
        t = THRESHOLD_GRID[-1]
        best = (t, line_scores(replace(model, threshold=t), probabilities, labels))
    return best


def fit_line_model(encoder: Any, splits: Sequence[str]) -> tuple[IndicatorModel, Any]:
    """Fit the line model on :func:`line_pairs` of ``splits``, threshold out of fold.

    Args:
        encoder: an :class:`~.embedding.EmbeddingDetector` (embeds the lines).

    Returns:
        ``(model, folds)``: the model fitted on every pair (``trained_on`` names the splits
        and the out-of-fold line scores) and the :class:`~.out_of_fold.FoldFit` (its fold
        models at the chosen threshold), for out-of-fold hits.
    """
    from safehold.grooming.out_of_fold import fit_folds, memory_rows, prototype_memory

    pairs = line_pairs(splits)
    labels = [label for _, label, _ in pairs]
    classes = (NONE, *sorted(set(labels) - {NONE}))
    budget = memory_budget(classes)
    folds = fit_folds(
        encoder,
        pairs,
        classes,
        0.5,
        c=LINE_C,
        neighbour_weight=LINE_NEIGHBOUR_WEIGHT,
        neighbours=LINE_NEIGHBOURS,
        originals_only=MEMORY_ORIGINALS_ONLY,
        budget=budget,
    )
    weights, bias = fit(folds.pair_vectors, labels, LINE_C, classes)
    model = IndicatorModel(classes, weights, bias, 0.5, encoder.layers, "")
    if LINE_NEIGHBOUR_WEIGHT > 0:
        rows = memory_rows(pairs, MEMORY_ORIGINALS_ONLY)
        index = {name: k for k, name in enumerate(classes)}
        label_index = np.array([index[label] for label in labels], dtype=np.int64)
        memory, memory_class = prototype_memory(folds.pair_vectors[rows], label_index[rows], budget)
        model = with_memory(model, memory, memory_class, LINE_NEIGHBOUR_WEIGHT, LINE_NEIGHBOURS)
    threshold, scores = choose_threshold(model, folds.probabilities, labels)
    rows_kept = 0 if model.memory_class is None else len(model.memory_class)
    model = replace(
        model,
        threshold=threshold,
        trained_on=(
            f"round 8: synthetic templates of {', '.join(splits)} (positives from "
            f"{', '.join(s for s in splits if s in POSITIVE_SPLITS)}), benign_lines.toml, "
            f"examples.toml; C {LINE_C}; neighbour weight {LINE_NEIGHBOUR_WEIGHT}, "
            f"{LINE_NEIGHBOURS} neighbours, memory {rows_kept} rows "
            f"({MEMORY_BUDGET}); threshold out of fold: {scores}"
        ),
    )
    folds = replace(folds, models=tuple(replace(m, threshold=threshold) for m in folds.models))
    return model, folds


def main(argv: list[str] | None = None) -> int:
    """Fit on :data:`~.calibration.FIT_SPLITS` and write the packaged model; ``--cv`` also
    prints the out-of-fold line scores."""
    from safehold.grooming.calibration import FIT_SPLITS
    from safehold.grooming.embedding import EmbeddingDetector

    args = argv if argv is not None else sys.argv[1:]
    encoder = EmbeddingDetector(scoring="examples")
    model, _ = fit_line_model(encoder, FIT_SPLITS)
    target = Path(__file__).parent / PACKAGED
    target.write_text(json.dumps(model.to_dict()) + "\n")
    print(f"chosen T={model.threshold} -> {target}", file=sys.stderr)
    if "--cv" in args:
        print(f"out of fold: {model.trained_on}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
