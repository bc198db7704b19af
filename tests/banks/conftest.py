"""Fixtures of the bank tests."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from safehold.banks import importing, parse_process


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Bank names imported through parser processes; temporary files go under
    ``tmp_path / "scratch"`` (so a test can check that nothing is left there)."""
    called: list[str] = []
    real: Callable[..., Any] = parse_process.load_with_parsers

    def wrapper(engine: Any, bank_name: str, *args: Any, **kwargs: Any) -> Any:
        called.append(bank_name)
        return real(engine, bank_name, *args, **kwargs)

    monkeypatch.setattr(importing, "load_with_parsers", wrapper)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return called
