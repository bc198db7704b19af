"""Out-of-fold indicator hits for the training conversations, so the risk model sees the noise
the learned indicator model makes on wording it never saw.

The learned indicator model (:mod:`.indicator_model`) is fitted on the training split's
template lines, so on the training conversations its hits are near perfect; a risk model
fitted on them learns to trust hits more than it should on new wording (docs/grooming.md,
rounds 4-5). Here the training pairs (:func:`~.indicator_fit.line_pairs`) are split into
:data:`FOLDS` folds by template line (a line and its obfuscated copy stay together); each
message of a training conversation is mapped to its nearest training pair (cosine of the
sentence embeddings: the messages are template lines with slots filled, some obfuscated) and
scored by the model fitted without that pair's fold. This is the standard out-of-fold
("cross-fitting") construction for stacking one model on another (Wolpert 1992, "Stacked
generalization"). Context indicators and age questions keep the detector's own pattern hits.

Needs ``safehold[embeddings,grooming]`` (the encoder and scikit-learn). Used by
:mod:`.calibration` and :mod:`.crossval` for the embedding detector.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from safehold.grooming.detector import Detector, Hit
from safehold.grooming.embedding import MIN_WORDS, EmbeddingDetector, message_segments
from safehold.grooming.indicator_model import IndicatorModel, with_memory
from safehold.grooming.model import Conversation
from safehold.grooming.normalize import normalize

#: Folds over the training template lines.
FOLDS = 5
#: Inverse L2 strength of each fold's fit by default: the packaged model's
#: (:data:`~.indicator_fit.LINE_C`; chosen on dev in rounds 4 and 5).
FOLD_C = 8.0


class ReplayDetector(Detector):
    """Serves precomputed hits by text; texts it does not hold go to ``fallback``.

    Args:
        name: the detector name to report (the risk model's weights are per name).
        table: text -> hits.
        fallback: detector for texts not in ``table``.
    """

    def __init__(self, name: str, table: dict[str, list[Hit]], fallback: Detector) -> None:
        self.name = name  # type: ignore[misc]
        self.version = f"{fallback.version}+out-of-fold"
        self.table = table
        self.fallback = fallback

    def _detect(self, texts: list[str]) -> list[list[Hit]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.table]
        if missing:
            self.table.update(zip(missing, self.fallback.detect(missing), strict=True))
        return [list(self.table[t]) for t in texts]


@dataclass(frozen=True)
class FoldFit:
    """Line models fitted with one fold of the training pairs left out.

    Attributes:
        pair_vectors: (n_pairs, 384) unit embeddings of the training pairs.
        pair_fold: (n_pairs,) the fold of each pair (a template line and its obfuscated copy
            share one).
        models: one :class:`IndicatorModel` per fold, fitted without that fold's pairs.
        probabilities: (n_pairs, classes) each pair's class probabilities from the model that
            did not see it (out of fold).
    """

    pair_vectors: NDArray[np.float32]
    pair_fold: NDArray[np.int64]
    models: tuple[IndicatorModel, ...]
    probabilities: NDArray[np.float32]


def memory_rows(pairs: Sequence[tuple[str, str, str]], originals_only: bool) -> NDArray[np.bool_]:
    """Which ``pairs`` (``(text, class, group)``) go into a line model's neighbour memory: all,
    or (``originals_only``) the first pair of each group (the written line, not its obfuscated
    copy, which :func:`~.indicator_fit.indicator_pairs` appends after it)."""
    keep = np.zeros(len(pairs), dtype=bool)
    if not originals_only:
        keep[:] = True
        return keep
    first: dict[str, int] = {}
    for i, (_, _, group) in enumerate(pairs):
        first.setdefault(group, i)
    keep[list(first.values())] = True
    return keep


def prototype_memory(
    vectors: NDArray[np.float32],
    labels: NDArray[np.int64],
    budget: Sequence[int],
    seed: int = 0,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Compress a neighbour memory: the rows of each class ``k`` that has more than
    ``budget[k]`` of them become ``budget[k]`` k-means centroids (scikit-learn's ``KMeans``,
    Lloyd's algorithm with k-means++ seeding, Arthur & Vassilvitskii 2007; one run,
    ``seed``), scaled to unit length; classes within budget (or with budget 0) keep their rows.

    Args:
        vectors: (m, dim) unit embeddings.
        labels: (m,) class index of each row.
        budget: rows kept per class index (0: all).

    Returns:
        ``(vectors, labels)`` of the compressed memory, grouped by class.
    """
    from sklearn.cluster import KMeans

    out_vectors: list[NDArray[np.float32]] = []
    out_labels: list[NDArray[np.int64]] = []
    for k, limit in enumerate(budget):
        rows = vectors[labels == k]
        if limit and len(rows) > limit:
            centres = KMeans(limit, n_init=1, random_state=seed).fit(rows).cluster_centers_
            rows = centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        out_vectors.append(rows.astype(np.float32))
        out_labels.append(np.full(len(rows), k, dtype=np.int64))
    return np.concatenate(out_vectors), np.concatenate(out_labels)


def fit_folds(
    detector: EmbeddingDetector,
    pairs: Sequence[tuple[str, str, str]],
    classes: Sequence[str],
    threshold: float,
    folds: int = FOLDS,
    seed: int = 0,
    c: float = FOLD_C,
    neighbour_weight: float = 0.0,
    neighbours: int = 5,
    originals_only: bool = False,
    budget: Sequence[int] = (),
) -> FoldFit:
    """Fit ``folds`` line models on ``pairs`` (``(text, class, group)``), each without one
    fold of the groups (shuffled by ``seed``); ``detector`` embeds the texts.

    Args:
        neighbour_weight: when > 0, each fold model carries a neighbour memory of its own
            training pairs (:func:`~.indicator_model.with_memory`; ``neighbours`` per class,
            ``originals_only``: :func:`memory_rows`; ``budget``: rows per class index,
            :func:`prototype_memory`), so out-of-fold scores include it.

    Raises:
        ValueError: a fold leaves some class of ``classes`` without a training pair.
    """
    from safehold.grooming.indicator_fit import fit

    pair_vectors = detector.embed([text for text, _, _ in pairs])
    labels = [label for _, label, _ in pairs]
    index = {name: k for k, name in enumerate(classes)}
    label_index = np.array([index[label] for label in labels], dtype=np.int64)
    in_memory = memory_rows(pairs, originals_only)
    groups = sorted({group for _, _, group in pairs})
    random.Random(seed).shuffle(groups)
    fold_of = {group: i % folds for i, group in enumerate(groups)}
    pair_fold = np.array([fold_of[group] for _, _, group in pairs], dtype=np.int64)
    probabilities = np.zeros((len(pairs), len(classes)), dtype=np.float32)
    models = []
    for k in range(folds):
        keep = pair_fold != k
        weights, bias = fit(
            pair_vectors[keep],
            [y for y, kept in zip(labels, keep, strict=True) if kept],
            c,
            classes,
        )
        model = IndicatorModel(tuple(classes), weights, bias, threshold, detector.layers, "")
        if neighbour_weight > 0:
            rows = keep & in_memory
            memory, memory_class = pair_vectors[rows], label_index[rows]
            if budget:
                memory, memory_class = prototype_memory(memory, memory_class, budget, seed)
            model = with_memory(model, memory, memory_class, neighbour_weight, neighbours)
        probabilities[~keep] = model.probabilities(pair_vectors[~keep])
        models.append(model)
    return FoldFit(pair_vectors, pair_fold, tuple(models), probabilities)


def replay_out_of_fold(
    detector: EmbeddingDetector, conversations: Sequence[Conversation], fitted: FoldFit
) -> ReplayDetector:
    """A detector whose hits on ``conversations`` are out of fold: each message (three words
    or more) is scored by the model of ``fitted`` that did not see its nearest training pair
    (cosine); context and pattern hits are ``detector``'s own; other texts go to ``detector``.
    """
    texts = list(dict.fromkeys(m.text for c in conversations for m in c.messages))
    table: dict[str, list[Hit]] = {
        text: list(hits) for text, hits in zip(texts, detector.context.detect(texts), strict=True)
    }
    # each message and each of its sentences (message_segments), as the detector scores them
    units = [
        (i, part)
        for i, text in enumerate(texts)
        if len(text.split()) >= MIN_WORDS
        for part in (text, *message_segments(text))
    ]
    vectors = detector.embed([normalize(part, plain=False) or "." for _, part in units])
    nearest = np.concatenate(
        [
            (vectors[i : i + 2048] @ fitted.pair_vectors.T).argmax(axis=1)
            for i in range(0, len(vectors), 2048)
        ]
        or [np.zeros(0, dtype=np.int64)]
    )
    unit_fold = fitted.pair_fold[nearest]
    strongest: dict[tuple[int, str], Hit] = {}
    for k, model in enumerate(fitted.models):
        chosen = np.nonzero(unit_fold == k)[0]
        for j, hits in zip(chosen, model.detect(vectors[chosen]), strict=True):
            for hit in hits:
                key = (units[j][0], hit.indicator)
                if key not in strongest or hit.strength > strongest[key].strength:
                    strongest[key] = hit
    for (i, _), hit in sorted(strongest.items(), key=lambda kv: kv[0]):
        table[texts[i]].append(hit)
    return ReplayDetector(detector.name, table, detector)


def out_of_fold_detector(
    detector: EmbeddingDetector,
    conversations: Sequence[Conversation],
    folds: int = FOLDS,
    seed: int = 0,
    splits: Sequence[str] = ("train",),
) -> Detector:
    """A detector whose hits on ``conversations`` (the training conversations) are out of fold.

    Args:
        detector: the embedding detector with its learned indicator model.
        conversations: the training conversations (other texts are served by ``detector``).
        folds: number of folds over the training template lines.
        seed: shuffles the template lines into folds (deterministic).
        splits: the template splits whose lines the line model was fitted on
            (:func:`~.indicator_fit.line_pairs`).

    Returns:
        A :class:`ReplayDetector` named like ``detector``.

    Raises:
        ValueError: ``detector`` has no learned indicator model (``scoring="examples"``).
    """
    from safehold.grooming.indicator_fit import (
        LINE_C,
        MEMORY_ORIGINALS_ONLY,
        line_pairs,
        memory_budget,
    )

    packaged = detector.indicator_model
    if packaged is None:
        raise ValueError("out-of-fold hits need the learned indicator model")
    fitted = fit_folds(
        detector,
        line_pairs(splits),
        packaged.classes,
        packaged.threshold,
        folds,
        seed,
        LINE_C,
        packaged.neighbour_weight if packaged.memory is not None else 0.0,
        packaged.neighbours,
        MEMORY_ORIGINALS_ONLY,
        memory_budget(packaged.classes),
    )
    return replay_out_of_fold(detector, conversations, fitted)
