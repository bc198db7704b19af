"""The grooming engine as the settings configure it, for the CLI and the HTTP service.

``GroomingConfig.from_settings(settings)`` builds the detector (``SAFEHOLD_GROOMING_DETECTOR``:
``auto``, the default, is the embedding detector where ``safehold[embeddings]`` is installed and
the pattern detector elsewhere),
the thresholds, the skepticism window and the optional trained classifier
(``SAFEHOLD_GROOMING_MODEL_PATH``) once; build it at start-up and share it (detectors are
thread-safe for reading; the embedding detector takes seconds to load).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safehold.errors import ConfigurationError, NotFoundError
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.risk import RiskThresholds

if TYPE_CHECKING:
    from safehold.grooming.classifier import GroomingClassifier
    from safehold.settings import Settings

log = logging.getLogger(__name__)

#: The detector setting that picks ``embedding`` where its extra is installed, else
#: ``pattern`` (the default: on every blind split the embedding detector flagged fewer benign
#: chats and found more grooming ones; docs/grooming.md).
AUTO_DETECTOR = "auto"


def check_detector_name(name: str) -> None:
    """Refuse a detector name no setting or option takes, listing every one that is taken
    (:data:`AUTO_DETECTOR` too, which the detector registry does not hold).

    Raises:
        NotFoundError: ``unknown grooming detector 'x' (known: auto, embedding, pattern)``.
    """
    import safehold.grooming.embedding
    import safehold.grooming.patterns  # noqa: F401  (importing registers the built-ins)
    from safehold.grooming.detector import DETECTORS

    known = sorted({AUTO_DETECTOR, *DETECTORS.names()})
    if name not in known:
        raise NotFoundError(f"unknown grooming detector {name!r} (known: {', '.join(known)})")


def detector_from_settings(settings: Settings, name: str | None = None) -> Detector:
    """The detector named ``name`` (default ``settings.grooming_detector``): ``pattern``,
    ``embedding`` (built with the embedding settings: ONNX or torch backend, model cache under
    the data directory, layers) or :data:`AUTO_DETECTOR`.

    Raises:
        NotFoundError: unknown detector name.
        ConfigurationError: ``embedding`` was named and its extra is missing, or bad layers.
    """
    name = name or settings.grooming_detector
    check_detector_name(name)
    if name not in ("embedding", AUTO_DETECTOR):
        return get_detector(name)
    options: dict[str, object] = {
        "backend": "auto" if settings.grooming_embedding_onnx else "torch",
        "cache_dir": settings.data_dir / "models",
        "layers": settings.grooming_embedding_layers,
    }
    if name == "embedding":
        return get_detector(name, **options)
    try:
        return get_detector("embedding", **options)
    except ConfigurationError as exc:
        log.info("grooming detector: pattern (the embedding detector is unavailable: %s)", exc)
        return get_detector("pattern")


@dataclass(frozen=True)
class GroomingConfig:
    """Detector, thresholds, skepticism window and optional classifier."""

    detector: Detector
    thresholds: RiskThresholds
    skepticism: int
    classifier: GroomingClassifier | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a user should know before trusting the scores: a classifier trained with
        another detector than the one configured (:meth:`GroomingClassifier.detector_mismatch`)."""
        if self.classifier is None:
            return ()
        mismatch = self.classifier.detector_mismatch(self.detector)
        return (mismatch,) if mismatch else ()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        detector: str | None = None,
        model_path: Path | None = None,
        skepticism: int | None = None,
    ) -> GroomingConfig:
        """Build from settings; keyword arguments override the matching setting.

        Raises:
            NotFoundError: unknown detector name.
            ConfigurationError: the detector's extra is missing, or bad thresholds.
            InvalidInputError: the model file is not a grooming classifier.
            OSError: the model file cannot be read.
        """
        from safehold.grooming.classifier import GroomingClassifier

        path = model_path or settings.grooming_model_path
        return cls(
            detector=detector_from_settings(settings, detector),
            thresholds=RiskThresholds.from_settings(settings),
            skepticism=skepticism or settings.grooming_skepticism,
            classifier=GroomingClassifier.load(path) if path else None,
        )
