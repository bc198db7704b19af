"""open_database: the SQLite default migrates itself; server databases must be migrated."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from safehold.errors import DatabaseNotMigratedError, StorageError
from safehold.settings import Settings
from safehold.storage import migrate
from safehold.storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_PAGE_SIZE,
    database_status,
    normalize_url,
    open_database,
    upgrade_database,
)


def test_default_sqlite_is_created_and_migrated_on_first_use(settings: Settings) -> None:
    db_file = settings.data_dir / "safehold.db"
    assert not db_file.exists()
    engine = open_database(settings)
    try:
        assert db_file.is_file()
        assert migrate.schema_state(engine).is_current
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
            tables = {r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master")}
        assert {"banks", "bank_entries", "changes", "alembic_version"} <= tables
    finally:
        engine.dispose()
    # Second open: already current, nothing to do.
    open_database(settings).dispose()


def test_sqlite_without_auto_migration_names_the_upgrade_command(settings: Settings) -> None:
    with pytest.raises(DatabaseNotMigratedError, match="safehold db upgrade"):
        open_database(settings, migrate_embedded=False)


def test_unmigrated_postgres_is_refused_until_db_upgrade(empty_postgres_url: str) -> None:
    settings = Settings(database_url=empty_postgres_url)
    with pytest.raises(DatabaseNotMigratedError, match="run `safehold db upgrade`"):
        open_database(settings)
    name, state = database_status(settings)
    assert state.current == ()
    name, state = upgrade_database(settings)
    assert state.is_current
    assert "postgresql+psycopg://" in name
    open_database(settings).dispose()


def test_database_written_by_newer_code_is_refused(settings: Settings) -> None:
    open_database(settings).dispose()
    with sqlite3.connect(settings.data_dir / "safehold.db") as c:
        c.execute("UPDATE alembic_version SET version_num = 'ffff_future'")
    with pytest.raises(StorageError, match="does not know; upgrade Safehold"):
        open_database(settings)


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgresql://u@db.example/safehold", "postgresql+psycopg"),
        ("postgres://u@db.example/safehold", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db.example/safehold", "postgresql+psycopg"),
        ("sqlite:////var/lib/safehold/safehold.db", "sqlite"),
    ],
)
def test_urls_as_users_type_them_get_the_psycopg3_driver(raw: str, driver: str) -> None:
    assert normalize_url(raw).drivername == driver


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "empty"),
        ("not a url", "not valid"),
        ("mysql://u:hunter2pw@db.example/x", "not supported"),
    ],
)
def test_bad_urls_raise_storage_error_without_password(raw: str, needle: str) -> None:
    with pytest.raises(StorageError, match=needle) as info:
        normalize_url(raw)
    assert "hunter2pw" not in info.value.message


def test_unreachable_server_gives_storage_error_without_password() -> None:
    settings = Settings(database_url="postgresql://safehold:hunter2pw@127.0.0.1:1/safehold")
    with pytest.raises(StorageError) as info:
        open_database(settings)
    assert "hunter2pw" not in info.value.message
    assert "127.0.0.1:1" in info.value.message
    assert "***" in info.value.message


def test_sqlite_directory_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = Settings(data_dir=blocker / "data")
    with pytest.raises(StorageError, match="cannot create the directory"):
        open_database(settings)


def test_explicit_sqlite_url_is_used(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "banks.db"
    path.parent.mkdir()
    engine = open_database(Settings(data_dir=tmp_path / "unused", database_url=f"sqlite:///{path}"))
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM banks")).scalar() == 0
    finally:
        engine.dispose()
    assert path.is_file()
    assert not (tmp_path / "unused").exists()


def test_a_new_sqlite_file_gets_the_large_page_size_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made_before:  # SQLite's default page size, 4096
        made_before.execute("CREATE TABLE t (x)")
    sizes = {}
    for name in ("new.db", "old.db"):
        engine = open_database(Settings(database_url=f"sqlite:///{tmp_path / name}"))
        try:
            with engine.connect() as c:
                sizes[name] = c.exec_driver_sql("PRAGMA page_size").scalar()
                assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        finally:
            engine.dispose()
    assert sizes == {"new.db": SQLITE_PAGE_SIZE, "old.db": 4096}
    assert SQLITE_PAGE_SIZE == 65536


@pytest.mark.parametrize("call", [open_database, database_status, upgrade_database])
def test_explicit_sqlite_url_never_creates_a_missing_folder(
    tmp_path: Path, call: Callable[[Settings], object]
) -> None:
    path = tmp_path / "typo" / "x.db"
    settings = Settings(data_dir=tmp_path / "unused", database_url=f"sqlite:///{path}")
    with pytest.raises(StorageError, match=f"the folder {tmp_path / 'typo'} does not exist"):
        call(settings)
    assert not (tmp_path / "typo").exists()
    assert not (tmp_path / "unused").exists()


def test_the_default_database_folder_is_created_on_first_use(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    open_database(Settings(data_dir=data_dir)).dispose()
    assert (data_dir / "safehold.db").is_file()


def _open_and_count_banks(data_dir: str) -> int:
    engine = open_database(Settings(data_dir=Path(data_dir)))
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM banks")).scalar_one())
    finally:
        engine.dispose()


def test_processes_opening_a_fresh_sqlite_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        results = list(pool.map(_open_and_count_banks, [str(tmp_path / "data")] * 4))
    assert results == [0, 0, 0, 0]
