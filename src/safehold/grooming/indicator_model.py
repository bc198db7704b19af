"""The learned indicator model: which behaviour a message shows, from its MiniLM embedding.

Nearest-example similarity (the embedding detector's first scoring) generalises only as far as
its few examples reach; a classifier trained on many varied phrasings per indicator learns the
*direction* of each behaviour in embedding space instead. This is a multinomial logistic
regression (softmax; Bishop, *Pattern Recognition and Machine Learning*, 4.3.4) over the unit
sentence embeddings, one class per indicator plus ``none`` (small talk, replies and near-miss
negatives), fitted offline by :mod:`.indicator_fit` and shipped as versioned JSON
(``data/indicator_model.json``, no pickle). Inference is numpy only.

Since round 8 the model may also carry a **memory** of its training lines' embeddings (one
class per line): each class's logit gets ``neighbour_weight`` times the mean cosine of the
message to its ``neighbours`` nearest lines of that class (k-nearest-neighbour similarity, the
"similarity to indexed examples" of Roblox Sentinel, added to a linear model's logits as in
kNN-augmented classifiers, e.g. Khandelwal et al. 2020, "Generalization through Memorization",
which interpolate a kNN distribution into a model's). A linear boundary learns one direction
per behaviour; the neighbours keep the many ways one writer words it. Leaving one writer out it
found the held writer's grooming lines more often at the same share of flagged ``none`` lines
(docs/grooming.md, "Round 8"). The memory is stored int8 with one scale per line (cosine error
about 0.001).

A message's probability ``p`` of an indicator becomes a hit strength by a two-piece ramp that
puts the decision threshold ``T`` (chosen out of fold) at :data:`~.features.PRESENT`
(0.5): ``0.5 p / T`` below it, ``0.5 + 0.5 (p - T) / (1 - T)`` above; hits weaker than
:data:`MIN_STRENGTH` are dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from safehold.errors import ConfigurationError
from safehold.grooming.detector import Hit
from safehold.grooming.features import PRESENT
from safehold.grooming.indicators import INDICATORS

INDICATOR_MODEL_FORMAT = "safehold-grooming-indicator-model"
#: Format version written (2: round 8, the optional neighbour memory); 1 is still read.
INDICATOR_MODEL_VERSION = 2
#: Versions :meth:`IndicatorModel.from_dict` reads.
READABLE_VERSIONS = (1, 2)
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
        trained_on: what the model was fitted on (free text).
        memory: (m, dim) float32 unit embeddings of training lines, rows grouped by class
            (``memory_class`` ascending), or None (a plain softmax model).
        memory_class: (m,) int64 class index of each memory row, ascending.
        neighbour_weight: weight of the neighbour similarity added to each logit (0: none).
        neighbours: how many nearest memory lines of a class are averaged.
        dim: embedding size (384 for MiniLM).
    """

    classes: tuple[str, ...]
    weights: NDArray[np.float32]
    bias: NDArray[np.float32]
    threshold: float
    layers: int
    trained_on: str = ""
    memory: NDArray[np.float32] | None = None
    memory_class: NDArray[np.int64] | None = None
    neighbour_weight: float = 0.0
    neighbours: int = 5

    @property
    def dim(self) -> int:
        """Embedding size the model expects."""
        return int(self.weights.shape[1])

    @property
    def version(self) -> str:
        """``im-`` and 12 hex digits of a hash of the weights and threshold (stable)."""
        digest = hashlib.sha256(self.weights.tobytes() + self.bias.tobytes())
        digest.update(repr((self.classes, self.threshold)).encode())
        if self.memory is not None and self.neighbour_weight:
            digest.update(repr((self.neighbour_weight, self.neighbours)).encode())
            digest.update(_quantise(self.memory)[0].tobytes())
        return f"im-{digest.hexdigest()[:12]}"

    def neighbour_similarity(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """(n, len(classes)): for each class, the mean cosine of each of ``vectors`` (n, dim)
        to its :attr:`neighbours` nearest memory lines of that class (fewer where the class
        has fewer; 0 for a class without memory lines or a model without memory)."""
        out = np.zeros((len(vectors), len(self.classes)), dtype=np.float32)
        if self.memory is None or self.memory_class is None or not len(vectors):
            return out
        similarity = vectors.astype(np.float32) @ self.memory.T
        bounds = np.searchsorted(self.memory_class, np.arange(len(self.classes) + 1))
        for k in range(len(self.classes)):
            start, end = int(bounds[k]), int(bounds[k + 1])
            count = min(self.neighbours, end - start)
            if count <= 0:
                continue
            block = similarity[:, start:end]
            nearest = np.partition(block, block.shape[1] - count, axis=1)[:, -count:]
            out[:, k] = nearest.mean(axis=1)
        return out

    def probabilities(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Class probabilities (n, len(classes)) of unit embeddings ``vectors`` (n, dim):
        softmax of the linear logits plus :attr:`neighbour_weight` times
        :meth:`neighbour_similarity`.

        Raises:
            ValueError: ``vectors`` is not (n, dim).
        """
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected embeddings of shape (n, {self.dim}), not {vectors.shape}")
        logits = vectors.astype(np.float32) @ self.weights.T + self.bias
        if self.memory is not None and self.neighbour_weight:
            logits += self.neighbour_weight * self.neighbour_similarity(vectors)
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
        """The JSON document (:data:`INDICATOR_MODEL_FORMAT`, weights rounded to 6 digits;
        the memory, if any, as base64 int8 rows with one float32 scale per row)."""
        document: dict[str, Any] = {
            "format": INDICATOR_MODEL_FORMAT,
            "version": INDICATOR_MODEL_VERSION,
            "classes": list(self.classes),
            "threshold": self.threshold,
            "layers": self.layers,
            "trained_on": self.trained_on,
            "bias": [round(float(v), 6) for v in self.bias],
            "weights": [[round(float(v), 6) for v in row] for row in self.weights],
        }
        if self.memory is not None and self.memory_class is not None:
            rows, scale = _quantise(self.memory)
            document["memory"] = {
                "rows": len(rows),
                "neighbour_weight": self.neighbour_weight,
                "neighbours": self.neighbours,
                "class": [int(v) for v in self.memory_class],
                "int8": base64.b64encode(rows.tobytes()).decode("ascii"),
                "scale": base64.b64encode(scale.astype("<f4").tobytes()).decode("ascii"),
            }
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> IndicatorModel:
        """Read :meth:`to_dict`'s document.

        Raises:
            ConfigurationError: wrong format or version, an unknown indicator, or shapes that
                do not agree.
        """
        if document.get("format") != INDICATOR_MODEL_FORMAT:
            raise ConfigurationError("not a safehold grooming indicator model")
        if document.get("version") not in READABLE_VERSIONS:
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
        model = cls(classes, weights, bias, threshold, layers, str(document.get("trained_on", "")))
        if document.get("memory") is not None:
            model = _with_memory(model, document["memory"])
        return model


def with_memory(
    model: IndicatorModel,
    vectors: NDArray[np.float32],
    labels: NDArray[np.int64],
    weight: float,
    neighbours: int,
) -> IndicatorModel:
    """``model`` with the neighbour memory ``vectors`` (m, dim) of classes ``labels`` (m,
    indices into ``model.classes``), rows regrouped by class (stable), as stored: rounded
    through int8 like :meth:`IndicatorModel.to_dict`, so a fitted model scores as its file.

    Raises:
        ValueError: shapes disagree, a label is out of range, or ``neighbours`` < 1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[1] != model.dim or labels.shape != (len(vectors),):
        raise ValueError("memory vectors and labels disagree with the model")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(model.classes)):
        raise ValueError("memory label out of range")
    if neighbours < 1:
        raise ValueError("neighbours must be >= 1")
    order = np.argsort(labels, kind="stable")
    rows, scale = _quantise(vectors[order].astype(np.float32))
    return replace(
        model,
        memory=(rows.astype(np.float32) * scale[:, None]).astype(np.float32),
        memory_class=labels[order],
        neighbour_weight=float(weight),
        neighbours=int(neighbours),
    )


def _quantise(vectors: NDArray[np.float32]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """int8 rows and one float32 scale per row (largest magnitude -> 127)."""
    largest = np.abs(vectors).max(axis=1) / 127.0 if len(vectors) else np.zeros(0)
    scale = np.asarray(np.where(largest > 0, largest, 1.0), dtype=np.float32)
    rows = np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8)
    return rows, scale


def _with_memory(model: IndicatorModel, entry: dict[str, Any]) -> IndicatorModel:
    """Read :meth:`IndicatorModel.to_dict`'s ``memory`` entry into ``model``.

    Raises:
        ConfigurationError: the entry is malformed or disagrees with the model.
    """
    try:
        count = int(entry["rows"])
        rows = np.frombuffer(base64.b64decode(entry["int8"]), dtype=np.int8)
        scale = np.frombuffer(base64.b64decode(entry["scale"]), dtype="<f4")
        labels = np.asarray(entry["class"], dtype=np.int64)
        weight = float(entry["neighbour_weight"])
        neighbours = int(entry["neighbours"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"indicator model: bad memory ({exc})") from exc
    if rows.size != count * model.dim or scale.shape != (count,) or labels.shape != (count,):
        raise ConfigurationError("indicator model: memory rows, scales and classes disagree")
    if count and (labels.min() < 0 or labels.max() >= len(model.classes)):
        raise ConfigurationError("indicator model: memory class out of range")
    if np.any(np.diff(labels) < 0) or neighbours < 1:
        raise ConfigurationError("indicator model: memory must be grouped by class")
    vectors = rows.reshape(count, model.dim).astype(np.float32) * scale[:, None]
    return replace(
        model,
        memory=vectors.astype(np.float32),
        memory_class=labels,
        neighbour_weight=weight,
        neighbours=neighbours,
    )


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
