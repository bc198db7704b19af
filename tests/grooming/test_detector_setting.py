"""The detector setting: ``auto`` (the default) is the embedding detector where its extra is
installed and the pattern detector elsewhere; a named detector is that one or an error."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from safehold.errors import ConfigurationError, NotFoundError
from safehold.grooming import config
from safehold.grooming.detector import Detector
from safehold.settings import Settings


def test_the_default_is_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEHOLD_GROOMING_DETECTOR", raising=False)
    assert Settings().grooming_detector == "auto"


def test_auto_is_the_embedding_detector_where_it_is_installed(
    embedding_detector: Detector, tmp_path: Path
) -> None:
    settings = Settings(grooming_detector="auto", data_dir=tmp_path)
    found = config.detector_from_settings(settings)
    assert found.name == "embedding"
    assert found.version == embedding_detector.version  # the packaged examples and model
    assert config.GroomingConfig.from_settings(settings).detector.name == "embedding"


def test_auto_falls_back_to_patterns_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = config.get_detector
    asked: list[tuple[str, dict[str, Any]]] = []

    def without_extra(name: str, **options: Any) -> Detector:
        asked.append((name, options))
        if name == "embedding":
            raise ConfigurationError("the embeddings extra is not installed (test)")
        return real(name, **options)

    monkeypatch.setattr(config, "get_detector", without_extra)
    settings = Settings(grooming_detector="auto", data_dir=tmp_path, grooming_embedding_layers=4)
    with caplog.at_level(logging.INFO, logger="safehold.grooming.config"):
        found = config.detector_from_settings(settings)
    assert found.name == "pattern"
    assert asked[0] == (
        "embedding",
        {"backend": "auto", "cache_dir": tmp_path / "models", "layers": 4},
    )
    assert "embedding detector is unavailable" in caplog.text
    # Named, the embedding detector's absence is an error, not a silent fallback.
    with pytest.raises(ConfigurationError, match="not installed"):
        config.detector_from_settings(settings, "embedding")
    with pytest.raises(NotFoundError):
        config.detector_from_settings(settings, "nosuchdetector")
