"""A trainable classifier for organisations with their own labelled conversations.

The pattern and embedding detectors encode the literature; a platform that holds labelled
data (its own reviewed cases, or PAN-2012) can also learn its users' language. This is the
classic strong PAN-2012 baseline (Villatoro-Tello et al. 2012; Morris & Hirst 2012: a linear
model over word n-grams of each author's messages) combined with the indicator features of
:mod:`.features`: one L2 logistic regression (scikit-learn) over TF-IDF word 1-2-grams of the
sender's normalised messages plus the standardised indicator features.

Saved as a versioned JSON file (format ``safehold-grooming-classifier``, version 1): the
vocabulary, idf weights, coefficients and feature scaling. No pickle, so loading a model file
cannot run code, and scoring needs only numpy (training needs ``safehold[grooming]``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safehold.errors import ConfigurationError, InvalidInputError
from safehold.grooming.detector import Detector
from safehold.grooming.features import FEATURE_NAMES, Evidence
from safehold.grooming.model import Conversation
from safehold.grooming.normalize import normalize

CLASSIFIER_FORMAT = "safehold-grooming-classifier"
CLASSIFIER_VERSION = 1
EXTRA_HINT = "pip install 'safehold[grooming]'"
_TOKEN = re.compile(r"[a-z0-9]{2,}")
#: Prefix shares of grooming conversations added as training samples (as in calibration).
PREFIXES = (0.5, 0.75)


def ngrams(text: str) -> list[str]:
    """Word 1- and 2-grams of normalised text (tokens of two or more characters)."""
    tokens = _TOKEN.findall(normalize(text))
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def message_ngrams(messages: Sequence[str]) -> list[str]:
    """The n-grams of a sender's messages (bigrams never span two messages)."""
    return [gram for text in messages for gram in ngrams(text)]


def _sender_texts(conv: Conversation, cut: int | None = None) -> dict[str, tuple[str, ...]]:
    texts: dict[str, list[str]] = {}
    for message in conv.messages[:cut]:
        texts.setdefault(message.sender, []).append(message.text)
    return {sender: tuple(parts) for sender, parts in texts.items()}


class GroomingClassifier:
    """Logistic regression over sender n-grams and indicator features (see module docstring).

    Build with :meth:`train` or :meth:`load`; score with :meth:`sender_scores`.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != CLASSIFIER_FORMAT:
            raise InvalidInputError("not a safehold grooming classifier file")
        if document.get("version") != CLASSIFIER_VERSION:
            raise InvalidInputError(
                f"grooming classifier file version {document.get('version')!r} is not "
                f"supported (this Safehold reads version {CLASSIFIER_VERSION})"
            )
        try:
            self.vocabulary: dict[str, int] = dict(document["vocabulary"])
            self.idf = np.asarray(document["idf"], dtype=np.float64)
            self.text_coef = np.asarray(document["text_coef"], dtype=np.float64)
            self.feature_coef = np.asarray(document["feature_coef"], dtype=np.float64)
            self.mean = np.asarray(document["feature_mean"], dtype=np.float64)
            self.scale = np.asarray(document["feature_scale"], dtype=np.float64)
            self.intercept = float(document["intercept"])
            features = tuple(document["features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"grooming classifier file is damaged: {exc}") from None
        if features != FEATURE_NAMES:
            raise InvalidInputError(
                "grooming classifier file does not match this Safehold's features; retrain it"
            )
        self._check_shapes()
        self.document = document
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        self.label = f"classifier-{digest[:12]}"

    def _check_shapes(self) -> None:
        """Refuse arrays of the wrong length or shape, and vocabulary ids out of range, so a
        damaged file fails on load (not with an IndexError while scoring)."""
        n_text, n_features = len(self.vocabulary), len(FEATURE_NAMES)
        expected = {
            "idf": (self.idf, n_text),
            "text_coef": (self.text_coef, n_text),
            "feature_coef": (self.feature_coef, n_features),
            "feature_mean": (self.mean, n_features),
            "feature_scale": (self.scale, n_features),
        }
        for name, (array, length) in expected.items():
            if array.shape != (length,):
                raise InvalidInputError(
                    f"grooming classifier file is damaged: {name!r} has shape {array.shape}, "
                    f"expected ({length},)"
                )
            if not np.all(np.isfinite(array)):
                raise InvalidInputError(
                    f"grooming classifier file is damaged: {name!r} holds a non-finite number"
                )
        if np.any(self.scale == 0):
            raise InvalidInputError("grooming classifier file is damaged: 'feature_scale' has 0")
        ids = list(self.vocabulary.values())
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or sorted(
            ids
        ) != list(range(n_text)):
            raise InvalidInputError(
                "grooming classifier file is damaged: 'vocabulary' ids are not 0..n-1, each once"
            )
        if not math.isfinite(self.intercept):
            raise InvalidInputError("grooming classifier file is damaged: 'intercept'")

    @classmethod
    def train(
        cls,
        conversations: Sequence[Conversation],
        detector: Detector,
        *,
        c: float = 1.0,
        min_df: int = 2,
    ) -> GroomingClassifier:
        """Fit on labelled conversations (unlabelled ones are skipped).

        Raises:
            ConfigurationError: scikit-learn is not installed.
            InvalidInputError: fewer than two classes among the labelled senders.
        """
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
        except ImportError as exc:
            raise ConfigurationError(f"training needs scikit-learn: {EXTRA_HINT}") from exc
        texts: list[tuple[str, ...]] = []
        rows: list[list[float]] = []
        labels: list[int] = []
        for conv in conversations:
            if conv.label is None:
                continue
            hits = detector.detect([m.text for m in conv.messages])
            cuts = {len(conv.messages)}
            if conv.label.grooming:
                cuts |= {max(1, int(len(conv.messages) * p)) for p in PREFIXES}
            for cut in sorted(cuts):
                evidence = Evidence(dict(conv.participants))
                for message, message_hits in zip(conv.messages[:cut], hits[:cut], strict=True):
                    evidence.add(message, message_hits)
                for sender, text in _sender_texts(conv, cut).items():
                    texts.append(text)
                    rows.append(evidence.features(sender))
                    labels.append(int(sender in conv.label.groomers))
        if len(set(labels)) < 2:
            raise InvalidInputError("training needs both grooming and other senders")
        vectorizer = TfidfVectorizer(analyzer=message_ngrams, min_df=min_df, sublinear_tf=True)
        text_matrix = vectorizer.fit_transform(texts)
        features = np.asarray(rows)
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale < 1e-9] = 1.0
        from scipy.sparse import csr_matrix, hstack

        design = hstack([text_matrix, csr_matrix((features - mean) / scale)]).tocsr()
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        model.fit(design, labels)
        n_text = text_matrix.shape[1]
        import sklearn

        return cls(
            {
                "format": CLASSIFIER_FORMAT,
                "version": CLASSIFIER_VERSION,
                "sklearn": sklearn.__version__,
                "detector": detector.version,
                "features": list(FEATURE_NAMES),
                "vocabulary": {k: int(v) for k, v in vectorizer.vocabulary_.items()},
                "idf": vectorizer.idf_.tolist(),
                "text_coef": model.coef_[0][:n_text].tolist(),
                "feature_coef": model.coef_[0][n_text:].tolist(),
                "feature_mean": mean.tolist(),
                "feature_scale": scale.tolist(),
                "intercept": float(model.intercept_[0]),
                "trained_on": {"senders": len(labels), "grooming_senders": int(sum(labels))},
            }
        )

    def detector_mismatch(self, detector: Detector) -> str | None:
        """Why scoring with ``detector`` differs from how this classifier was trained, or None.

        The classifier's indicator features were computed by the detector it was trained with
        (its ``version``, kept in the file); another kind of detector (``pattern`` against
        ``embedding``) gives features of another distribution, and another version of the same
        kind (a refitted pattern table or line model) shifts them. Either way the probability is
        no longer calibrated, so the caller warns; the classifier still scores.
        """
        trained = str(self.document.get("detector", ""))
        if not trained or trained == detector.version:
            return None
        kind, trained_kind = _detector_kind(detector.version), _detector_kind(trained)
        if kind != trained_kind:
            return (
                f"the grooming classifier was trained with the {trained_kind} detector but "
                f"conversations are scored with the {kind} detector: its indicator features "
                f"differ, so its scores are not calibrated; retrain it with --detector {kind}"
            )
        return (
            f"the grooming classifier was trained with {trained}, conversations are scored "
            f"with {detector.version}: retrain it to keep its scores calibrated"
        )

    def counts(self, text: str) -> Counter[int]:
        """Vocabulary ids of one message's n-grams, counted (add these up per sender)."""
        return Counter(self.vocabulary[g] for g in ngrams(text) if g in self.vocabulary)

    def score(self, counts: Counter[int], features: list[float]) -> float:
        """Probability (0-1) for a sender with these n-gram counts and indicator features."""
        z = self.intercept
        if counts:
            idx = np.fromiter(counts.keys(), dtype=np.int64)
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))
            weights = tf * self.idf[idx]
            z += float(weights @ self.text_coef[idx]) / float(np.linalg.norm(weights))
        z += float(((np.asarray(features) - self.mean) / self.scale) @ self.feature_coef)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def sender_scores(self, conv: Conversation, evidence: Evidence) -> dict[str, float]:
        """Probability (0-1) per sender of the conversation read so far."""
        scores: dict[str, float] = {}
        for sender, texts in _sender_texts(conv).items():
            counts: Counter[int] = Counter()
            for text in texts:
                counts.update(self.counts(text))
            scores[sender] = self.score(counts, evidence.features(sender))
        return scores

    def save(self, path: Path) -> None:
        """Write the model file (JSON) to ``path``, replacing it."""
        from safehold.output_files import write_replacing

        write_replacing(path, json.dumps(self.document).encode())

    @classmethod
    def load(cls, path: Path) -> GroomingClassifier:
        """Read a model file written by :meth:`save`.

        Raises:
            InvalidInputError: not JSON, another format, another version, or damaged.
            OSError: the file cannot be read.
        """
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"{path}: not a grooming classifier file ({exc})") from None
        if not isinstance(document, dict):
            raise InvalidInputError(f"{path}: not a grooming classifier file")
        return cls(document)


def _detector_kind(version: str) -> str:
    """``pattern-1a2b...`` -> ``pattern``; ``embedding-minilm-...`` -> ``embedding``."""
    return version.split("-", 1)[0].split("+", 1)[0]
