"""``safehold db upgrade`` / ``safehold db current`` on SQLite and an empty PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from safehold.cli import db
from safehold.settings import Settings, get_settings
from safehold.storage import migrate

runner = CliRunner()


def test_sqlite_upgrade_and_current(settings: Settings) -> None:
    before = runner.invoke(db.app, ["current"])
    assert before.exit_code == 3, before.output  # not up to date
    assert "revision: none (empty database)" in before.stdout
    assert "needs migration" in before.stdout
    upgraded = runner.invoke(db.app, ["upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    assert f"is at schema revision {head}" in upgraded.stdout
    assert str(settings.data_dir / "safehold.db") in upgraded.stdout
    after = runner.invoke(db.app, ["current"])
    assert after.exit_code == 0
    assert "status:   up to date" in after.stdout
    again = runner.invoke(db.app, ["upgrade"])
    assert again.exit_code == 0


def test_postgres_upgrade_hides_password(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEHOLD_DATABASE_URL", empty_postgres_url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(db.app, ["upgrade"])
        assert result.exit_code == 0, result.output
        assert "postgresql+psycopg://" in result.stdout
        assert "up to date" in runner.invoke(db.app, ["current"]).stdout
    finally:
        get_settings.cache_clear()


def test_unreachable_database_and_bad_revision(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_revision = runner.invoke(db.app, ["upgrade", "--revision", "9999"])
    assert bad_revision.exit_code == 2
    assert bad_revision.stderr.startswith("error: cannot migrate to '9999'")
    monkeypatch.setenv("SAFEHOLD_DATABASE_URL", "postgresql://u:hunter2pw@127.0.0.1:1/x")
    get_settings.cache_clear()
    try:
        result = runner.invoke(db.app, ["current"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot use the database")
    assert "hunter2pw" not in result.output


@pytest.mark.parametrize("revision", ["base", "-1"])
def test_upgrade_refuses_a_downgrade(settings: Settings, revision: str) -> None:
    result = runner.invoke(db.app, ["upgrade", "--revision", revision])
    assert result.exit_code == 2
    assert "db upgrade only moves forward" in result.stderr
    assert not (settings.data_dir / "safehold.db").exists()
