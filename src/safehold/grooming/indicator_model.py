"""The learned indicator model: which behaviour a message shows, from its MiniLM embedding.

Nearest-example similarity (the embedding detector's first scoring) generalises only as far as
its few examples reach; a classifier trained on many varied phrasings per indicator learns the
*direction* of each behaviour in embedding space instead. This is a multinomial logistic
regression (softmax; Bishop, *Pattern Recognition and Machine Learning*, 4.3.4) over the unit
sentence embeddings, one class per indicator plus ``none`` (small talk, replies and near-miss
negatives), fitted offline by :mod:`.indicator_fit` and shipped as versioned JSON
(``data/indicator_model.json``, no pickle). Inference is numpy only.

A message's probability ``p`` of an indicator becomes a hit strength by a two-piece ramp that
puts the decision threshold ``T`` (chosen on the dev split) at :data:`~.features.PRESENT`
(0.5): ``0.5 p / T`` below it, ``0.5 + 0.5 (p - T) / (1 - T)`` above; hits weaker than
:data:`MIN_STRENGTH` are dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Hit
from safehold.grooming.features import PRESENT
from safehold.grooming.indicators import INDICATORS

INDICATOR_MODEL_FORMAT = "safehold-grooming-indicator-model"
INDICATOR_MODEL_VERSION = 1
#: The class of messages that show no indicator.
NONE = "none"
#: Hits weaker than this are dropped (the embedding detector's floor).
MIN_STRENGTH = 0.2
#: Indicators the embedding detector also matches by pattern when it scores with this model:
#: age questions are nearly facts, and the short replies that return them ("6th wbu": a peer
#: asking back, which the risk model reads as mutuality) are under the detector's three-word
#: floor and never embedded. Without it dev's peer chats were flagged 8-16 % (docs/grooming.md).
PATTERN_INDICATORS = ("age_probing",)
#: Where the packaged model lives, inside the package.
PACKAGED = "data/indicator_model.json"


@dataclass(frozen=True)
class IndicatorModel:
    """A fitted softmax classifier over sentence embeddings.

    Attributes:
        classes: class names; :data:`NONE` and indicator names (each registered).
        weights: (len(classes), dim) float32.
        bias: (len(classes),) float32.
        threshold: probability at which an indicator counts as present (strength 0.5).
        layers: MiniLM layers of the encoder the model was fitted on; other layer counts
            embed differently and must not use it.
        dim: embedding size (384 for MiniLM).
    """

    classes: tuple[str, ...]
    weights: NDArray[np.float32]
    bias: NDArray[np.float32]
    threshold: float
    layers: int
    trained_on: str = ""

    @property
    def dim(self) -> int:
        """Embedding size the model expects."""
        return int(self.weights.shape[1])

    @property
    def version(self) -> str:
        """``im-`` and 12 hex digits of a hash of the weights and threshold (stable)."""
        digest = hashlib.sha256(self.weights.tobytes() + self.bias.tobytes())
        digest.update(repr((self.classes, self.threshold)).encode())
        return f"im-{digest.hexdigest()[:12]}"

    def probabilities(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Class probabilities (n, len(classes)) of unit embeddings ``vectors`` (n, dim).

        Raises:
            ValueError: ``vectors`` is not (n, dim).
        """
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected embeddings of shape (n, {self.dim}), not {vectors.shape}")
        logits = vectors.astype(np.float32) @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)

    def strengths(self, probabilities: NDArray[np.float32]) -> NDArray[np.float64]:
        """Hit strengths (same shape) from probabilities, by the module's two-piece ramp."""
        p = probabilities.astype(np.float64)
        t = self.threshold
        below = PRESENT * p / t
        above = PRESENT + (1.0 - PRESENT) * (p - t) / (1.0 - t)
        return np.clip(np.where(p < t, below, above), 0.0, 1.0)

    def detect(self, vectors: NDArray[np.float32]) -> list[list[Hit]]:
        """The indicator hits of each embedding (one list per row, maybe empty).

        Evidence names the model and the probability, e.g. ``"model: p=0.93"``.
        """
        probabilities = self.probabilities(vectors)
        strength = self.strengths(probabilities)
        out: list[list[Hit]] = [[] for _ in range(len(vectors))]
        for k, name in enumerate(self.classes):
            if name == NONE:
                continue
            for i in np.nonzero(strength[:, k] >= MIN_STRENGTH)[0]:
                hit = Hit(
                    name, round(float(strength[i, k]), 4), f"model: p={probabilities[i, k]:.2f}"
                )
                out[int(i)].append(hit)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (:data:`INDICATOR_MODEL_FORMAT`, weights rounded to 6 digits)."""
        return {
            "format": INDICATOR_MODEL_FORMAT,
            "version": INDICATOR_MODEL_VERSION,
            "classes": list(self.classes),
            "threshold": self.threshold,
            "layers": self.layers,
            "trained_on": self.trained_on,
            "bias": [round(float(v), 6) for v in self.bias],
            "weights": [[round(float(v), 6) for v in row] for row in self.weights],
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> IndicatorModel:
        """Read :meth:`to_dict`'s document.

        Raises:
            ConfigurationError: wrong format or version, an unknown indicator, or shapes that
                do not agree.
        """
        if document.get("format") != INDICATOR_MODEL_FORMAT:
            raise ConfigurationError("not a safehold grooming indicator model")
        if document.get("version") != INDICATOR_MODEL_VERSION:
            raise ConfigurationError(
                f"indicator model version {document.get('version')} is not supported"
            )
        try:
            classes = tuple(str(c) for c in document["classes"])
            weights = np.asarray(document["weights"], dtype=np.float32)
            bias = np.asarray(document["bias"], dtype=np.float32)
            threshold = float(document["threshold"])
            layers = int(document["layers"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"indicator model: bad field ({exc})") from exc
        unknown = [n for n in classes if n != NONE and n not in INDICATORS.names()]
        if unknown:
            raise ConfigurationError(f"indicator model: unknown indicators {unknown}")
        if weights.ndim != 2 or weights.shape[0] != len(classes) or bias.shape != (len(classes),):
            raise ConfigurationError("indicator model: weights, bias and classes disagree")
        if not 0.0 < threshold < 1.0:
            raise ConfigurationError("indicator model: threshold must be in (0, 1)")
        return cls(classes, weights, bias, threshold, layers, str(document.get("trained_on", "")))


def load_indicator_model(text: str | None = None) -> IndicatorModel:
    """The packaged model (``data/indicator_model.json``), or the JSON document ``text``.

    Raises:
        ConfigurationError: the document is not a valid indicator model.
    """
    if text is None:
        text = resources.files("safehold.grooming").joinpath(PACKAGED).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"indicator model is not JSON: {exc}") from exc
    return IndicatorModel.from_dict(document)


def model_for(scoring: str, layers: int) -> IndicatorModel | None:
    """The embedding detector's scoring: the packaged model for ``scoring == "model"`` when it
    was fitted on a ``layers``-layer encoder, else None (nearest-example scoring).

    Raises:
        ConfigurationError: ``scoring`` is not ``model`` or ``examples``, or the packaged
            model is invalid.
    """
    if scoring not in ("model", "examples"):
        raise ConfigurationError(f"unknown embedding scoring {scoring!r} (model, examples)")
    if scoring == "examples":
        return None
    model = load_indicator_model()
    return model if model.layers == layers else None
