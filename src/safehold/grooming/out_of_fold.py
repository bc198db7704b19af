"""Out-of-fold indicator hits for the training conversations, so the risk model sees the noise
the learned indicator model makes on wording it never saw.

The learned indicator model (:mod:`.indicator_model`) is fitted on the training split's
template lines, so on the training conversations its hits are near perfect; a risk model
fitted on them learns to trust hits more than it should on new wording (docs/grooming.md,
rounds 4-5). Here the training pairs of :func:`~.indicator_fit.indicator_pairs` are split into
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

import numpy as np

from safehold.grooming.detector import Detector, Hit
from safehold.grooming.embedding import MIN_WORDS, EmbeddingDetector, load_examples
from safehold.grooming.indicator_model import IndicatorModel
from safehold.grooming.model import Conversation
from safehold.grooming.normalize import normalize

#: Folds over the training template lines.
FOLDS = 5
#: Inverse L2 strength of each fold's fit: the packaged model's (``indicator_fit`` chose 8 on
#: dev in rounds 4 and 5).
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


def out_of_fold_detector(
    detector: EmbeddingDetector,
    conversations: Sequence[Conversation],
    folds: int = FOLDS,
    seed: int = 0,
) -> Detector:
    """A detector whose hits on ``conversations`` (the training split) are out of fold.

    Args:
        detector: the embedding detector with its learned indicator model.
        conversations: the training conversations (other texts are served by ``detector``).
        folds: number of folds over the training template lines.
        seed: shuffles the template lines into folds (deterministic).

    Returns:
        A :class:`ReplayDetector` named like ``detector``.

    Raises:
        ValueError: ``detector`` has no learned indicator model (``scoring="examples"``).
    """
    from safehold.grooming.indicator_fit import fit, indicator_pairs

    packaged = detector.indicator_model
    if packaged is None:
        raise ValueError("out-of-fold hits need the learned indicator model")
    pairs = indicator_pairs("train", load_examples(), augment=True)
    pair_vectors = detector.embed([text for text, _, _ in pairs])
    labels = [label for _, label, _ in pairs]
    groups = sorted({group for _, _, group in pairs})
    random.Random(seed).shuffle(groups)
    fold_of = {group: i % folds for i, group in enumerate(groups)}
    pair_fold = np.array([fold_of[group] for _, _, group in pairs])

    texts = list(dict.fromkeys(m.text for c in conversations for m in c.messages))
    table: dict[str, list[Hit]] = {
        text: list(hits) for text, hits in zip(texts, detector.context.detect(texts), strict=True)
    }
    rows = [i for i, text in enumerate(texts) if len(text.split()) >= MIN_WORDS]
    vectors = detector.embed([normalize(texts[i], plain=False) or "." for i in rows])
    message_fold = pair_fold[(vectors @ pair_vectors.T).argmax(axis=1)]
    for k in range(folds):
        keep = pair_fold != k
        weights, bias = fit(
            pair_vectors[keep],
            [y for y, kept in zip(labels, keep, strict=True) if kept],
            FOLD_C,
            packaged.classes,
        )
        model = IndicatorModel(
            packaged.classes, weights, bias, packaged.threshold, packaged.layers, ""
        )
        chosen = np.nonzero(message_fold == k)[0]
        for j, hits in zip(chosen, model.detect(vectors[chosen]), strict=True):
            table[texts[rows[j]]].extend(hits)
    return ReplayDetector(detector.name, table, detector)
