"""The packaged Alembic migrations build exactly the schema that ``storage.tables`` declares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from safehold.storage import migrate
from safehold.storage.engine import create_database_engine, normalize_url
from safehold.storage.tables import Base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("empty_postgres_url")
    engine = create_database_engine(normalize_url(url))
    yield engine
    engine.dispose()


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as c:
        context = MigrationContext.configure(c, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrations_match_the_models(empty_engine: Engine) -> None:
    assert migrate.schema_state(empty_engine).current == ()
    migrate.upgrade(empty_engine)
    assert migrate.schema_state(empty_engine).is_current
    assert _schema_diff(empty_engine) == []
    names = {ix["name"] for ix in inspect(empty_engine).get_indexes("bank_entries")}
    assert {"ix_bank_entries_bank_id", "ix_bank_entries_change_seq"} <= names


def test_downgrade_to_base_and_back(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_engine)
    assert _schema_diff(empty_engine) == []


def test_migrations_ship_inside_the_package() -> None:
    root = Path(migrate.migrations_path())
    for name in ("alembic.ini", "env.py", "script.py.mako", "versions/0001_initial.py"):
        assert (root / name).is_file(), name
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert "storage/migrations/*.ini" in pyproject
    assert "storage/migrations/*.mako" in pyproject


def test_upgrading_from_0001_keeps_banks_and_entries(empty_engine: Engine) -> None:
    # 0002 adds columns to ``banks``; rebuilding that table on SQLite (foreign keys on) would
    # cascade-delete every bank entry.
    migrate.upgrade(empty_engine, "0001")
    with empty_engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO banks (id, name, description, source, enabled, created_at, "
                "updated_at, thresholds) VALUES (1, 'kept', '', '', true, :t, :t, '{}')"
            ),
            {"t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        c.execute(
            text(
                "INSERT INTO bank_entries (bank_id, signal_type, value, value_digest, source, "
                "note, added_at, enabled, change_seq) VALUES (1, 'md5', :v, :d, '', '', :t, "
                "true, 1)"
            ),
            {"v": "0" * 32, "d": bytes(32), "t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM bank_entries")).scalar_one() == 1
        row = c.execute(text("SELECT match_action, category_scheme FROM banks")).one()
        assert tuple(row) == ("review", None)
        with pytest.raises(IntegrityError):  # the category pair check holds
            c.execute(text("UPDATE banks SET category_scheme = 'local'"))
        c.rollback()
    migrate.downgrade(empty_engine, "0001")
    with empty_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM bank_entries")).scalar_one() == 1
