"""The grooming engine as the settings configure it, for the CLI and the HTTP service.

``GroomingConfig.from_settings(settings)`` builds the detector (``SAFEHOLD_GROOMING_DETECTOR``),
the thresholds, the skepticism window and the optional trained classifier
(``SAFEHOLD_GROOMING_MODEL_PATH``) once; build it at start-up and share it (detectors are
thread-safe for reading; the embedding detector takes seconds to load).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.risk import RiskThresholds

if TYPE_CHECKING:
    from safehold.grooming.classifier import GroomingClassifier
    from safehold.settings import Settings


@dataclass(frozen=True)
class GroomingConfig:
    """Detector, thresholds, skepticism window and optional classifier."""

    detector: Detector
    thresholds: RiskThresholds
    skepticism: int
    classifier: GroomingClassifier | None = None

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
        name = detector or settings.grooming_detector
        options: dict[str, object] = {}
        if name == "embedding":
            options["backend"] = "auto" if settings.grooming_embedding_onnx else "torch"
            options["cache_dir"] = settings.data_dir / "models"
            options["layers"] = settings.grooming_embedding_layers
        return cls(
            detector=get_detector(name, **options),
            thresholds=RiskThresholds.from_settings(settings),
            skepticism=skepticism or settings.grooming_skepticism,
            classifier=GroomingClassifier.load(path) if path else None,
        )
