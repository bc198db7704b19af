"""Shared fixtures: the benign reference media, an isolated Safehold data directory, and real
SQLite and PostgreSQL databases for storage and service tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from safehold.settings import Settings, get_settings

# The tests were written for the pattern detector (fast, and what they assert); those of the
# default, ``auto``, and of the embedding detector name theirs.
os.environ.setdefault("SAFEHOLD_GROOMING_DETECTOR", "pattern")
from safehold.storage import migrate

if TYPE_CHECKING:
    from safehold.banks.service import BankService
from safehold.storage.engine import (
    create_database_engine,
    normalize_url,
    open_database,
    safe_url,
)


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


# --- database fixtures: every service test runs on real SQLite and real PostgreSQL ----------

POSTGRES_URL_ENV = "SAFEHOLD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class PostgresServer:
    """The PostgreSQL server tests use; makes and drops throw-away databases on it."""

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def create_database(self, label: str) -> str:
        """Create an empty database ``safehold_test_<label>_<random>``; return its URL."""
        name = f"safehold_test_{label}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its connections)."""
        name = make_url(url).database
        with self.admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The test PostgreSQL server (env ``SAFEHOLD_TEST_POSTGRES_URL``, else 127.0.0.1:5432).

    Unreachable: the test fails when ``CI`` is set (CI must test PostgreSQL), else it skips.
    """
    raw = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        url = normalize_url(raw)
        server = PostgresServer(url)
        with server.admin.connect() as c:
            c.exec_driver_sql("SELECT 1")
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {safe_url(make_url(raw))}: {type(exc).__name__}"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    yield server
    server.admin.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer, worker_id: str) -> Iterator[str]:
    """URL of a migrated database owned by this xdist worker for the whole session."""
    url = postgres_server.create_database(worker_id)
    engine = create_database_engine(normalize_url(url))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def empty_postgres_url(postgres_server: PostgresServer, worker_id: str) -> Iterator[str]:
    """URL of a fresh, empty (unmigrated) PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database(f"{worker_id}_empty")
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "safehold.db"
    engine = create_database_engine(normalize_url(f"sqlite:///{path}"))
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _empty_tables(url: str) -> None:
    engine = create_engine(normalize_url(url), poolclass=NullPool)
    try:
        with engine.begin() as c:
            c.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            c.exec_driver_sql(
                "TRUNCATE bank_entries, changes, banks, entry_tombstones, match_events, api_keys, "
                "outbox, bank_actions, conversation_messages, conversations "
                "RESTART IDENTITY CASCADE"
            )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for an empty, migrated database: SQLite file or PostgreSQL (parametrised).

    The environment is set too (``SAFEHOLD_DATA_DIR``, ``SAFEHOLD_DATABASE_URL``), so CLI
    commands run in the test use the same database.
    """
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("SAFEHOLD_DATA_DIR", str(data_dir))
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), data_dir / "safehold.db")
        monkeypatch.delenv("SAFEHOLD_DATABASE_URL", raising=False)
    else:
        url = request.getfixturevalue("postgres_database")
        _empty_tables(url)
        monkeypatch.setenv("SAFEHOLD_DATABASE_URL", url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def engine(db_settings: Settings) -> Iterator[Engine]:
    """An engine on the parametrised test database (SQLite and PostgreSQL)."""
    engine = open_database(db_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def bank_service(engine: Engine) -> BankService:
    """A :class:`BankService` on the parametrised test database."""
    from safehold.banks.service import BankService

    return BankService(engine)
