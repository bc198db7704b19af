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
from safehold.grooming.embedding import MIN_WORDS, EmbeddingDetector
from safehold.grooming.indicator_model import IndicatorModel
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


def fit_folds(
    detector: EmbeddingDetector,
    pairs: Sequence[tuple[str, str, str]],
    classes: Sequence[str],
    threshold: float,
    folds: int = FOLDS,
    seed: int = 0,
    c: float = FOLD_C,
) -> FoldFit:
    """Fit ``folds`` line models on ``pairs`` (``(text, class, group)``), each without one
    fold of the groups (shuffled by ``seed``); ``detector`` embeds the texts.

    Raises:
        ValueError: a fold leaves some class of ``classes`` without a training pair.
    """
    from safehold.grooming.indicator_fit import fit

    pair_vectors = detector.embed([text for text, _, _ in pairs])
    labels = [label for _, label, _ in pairs]
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
    rows = [i for i, text in enumerate(texts) if len(text.split()) >= MIN_WORDS]
    vectors = detector.embed([normalize(texts[i], plain=False) or "." for i in rows])
    nearest = np.concatenate(
        [
            (vectors[i : i + 2048] @ fitted.pair_vectors.T).argmax(axis=1)
            for i in range(0, len(vectors), 2048)
        ]
        or [np.zeros(0, dtype=np.int64)]
    )
    message_fold = fitted.pair_fold[nearest]
    for k, model in enumerate(fitted.models):
        chosen = np.nonzero(message_fold == k)[0]
        for j, hits in zip(chosen, model.detect(vectors[chosen]), strict=True):
            table[texts[rows[j]]].extend(hits)
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
    from safehold.grooming.indicator_fit import LINE_C, line_pairs

    packaged = detector.indicator_model
    if packaged is None:
        raise ValueError("out-of-fold hits need the learned indicator model")
    fitted = fit_folds(
        detector, line_pairs(splits), packaged.classes, packaged.threshold, folds, seed, LINE_C
    )
    return replay_out_of_fold(detector, conversations, fitted)
