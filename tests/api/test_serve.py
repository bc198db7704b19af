"""How ``safehold serve`` starts each worker: the app factory, its database check and the
grooming settings check."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safehold.api.app import WORKERS_ENV, create_app, create_app_from_env
from safehold.cli.main import app as cli
from safehold.errors import DatabaseNotMigratedError
from safehold.settings import Settings, get_settings


def test_refuses_an_unmigrated_postgres_database(empty_postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=empty_postgres_url)
    app = create_app(settings)
    with (
        pytest.raises(DatabaseNotMigratedError, match="safehold db upgrade"),
        TestClient(app),
    ):
        pass


@pytest.mark.parametrize(("value", "workers"), [("4", 4), ("", 1), ("x", 1), ("0", 1)])
def test_factory_reads_the_worker_count(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, value: str, workers: int
) -> None:
    monkeypatch.setenv(WORKERS_ENV, value)
    app = create_app_from_env()
    with TestClient(app) as client:
        state = client.app.state.safehold  # type: ignore[attr-defined]
        assert state.workers == workers
        assert state.limiter.share == 1.0  # every worker enforces the whole budget
        assert state.settings.resolved_database_url() == settings.resolved_database_url()


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        (
            "SAFEHOLD_GROOMING_DETECTOR",
            "bogus",
            "error: SAFEHOLD_GROOMING_DETECTOR: unknown grooming detector 'bogus' "
            "(known: auto, embedding, pattern)\n",
        ),
        (
            "SAFEHOLD_GROOMING_MODEL_PATH",
            "{tmp}/missing.json",
            "error: SAFEHOLD_GROOMING_MODEL_PATH: cannot read {tmp}/missing.json: "
            "No such file or directory\n",
        ),
        (
            "SAFEHOLD_GROOMING_MODEL_PATH",
            "{tmp}/model.json",
            "error: SAFEHOLD_GROOMING_MODEL_PATH: {tmp}/model.json is not a usable grooming "
            "classifier: not a safehold grooming classifier file\n",
        ),
    ],
)
def test_serve_refuses_bad_grooming_settings(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    error: str,
) -> None:
    """Exit status 2 and the setting named before any worker starts (user test 5: a missing
    model file answered 500 per request, a malformed one 422, an unknown detector 404)."""
    (tmp_path / "model.json").write_text('{"format": "nope"}', encoding="utf-8")
    monkeypatch.setenv(variable, value.format(tmp=tmp_path))

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("uvicorn started")

    monkeypatch.setattr(uvicorn, "run", never)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert result.stderr == error.format(tmp=tmp_path)
