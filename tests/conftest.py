"""Shared fixtures: the benign reference media and an isolated Safehold data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from safehold.settings import Settings, get_settings


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to the team's benign reference media (``../shared/data`` beside the repo)."""
    override = os.environ.get("SAFEHOLD_SHARED_DATA")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "reference").is_dir():
        pytest.fail(f"shared reference data not found at {path}; set SAFEHOLD_SHARED_DATA")
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh data directory (so the default SQLite file is per test)."""
    monkeypatch.setenv("SAFEHOLD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SAFEHOLD_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
