"""How ``safehold serve`` starts each worker: the app factory and its database check."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safehold.api.app import WORKERS_ENV, create_app, create_app_from_env
from safehold.errors import DatabaseNotMigratedError
from safehold.settings import Settings


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
