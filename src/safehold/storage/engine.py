"""Open Safehold's database: URL normalisation, SQLite pragmas, and the migration check.

The default is an embedded SQLite file (``<data_dir>/safehold.db``) that is created and migrated
on first use, so a new user needs no set-up. A server database (PostgreSQL through psycopg 3)
is never altered implicitly: it must be migrated with ``safehold db upgrade`` first, else
:class:`~safehold.errors.DatabaseNotMigratedError`. See ``docs/decisions/0001-storage.md``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from safehold.errors import (
    DatabaseNotMigratedError,
    InvalidInputError,
    SafeholdError,
    StorageError,
)
from safehold.settings import Settings, get_settings
from safehold.storage import migrate

# Milliseconds a writer waits for SQLite's lock before "database is locked"
# (https://sqlite.org/pragma.html#pragma_busy_timeout).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page cache per connection, KiB (SQLite's default is 2 MiB); a larger cache keeps more of the
# unique index in memory during bulk imports (+10 % rows/s at 200k rows). Allocated on use.
SQLITE_CACHE_KIB = 65_536
# Page size of a new database file, bytes: SQLite's largest (its default is 4096; an existing
# file keeps its own, https://sqlite.org/pragma.html#pragma_page_size). Bulk loads write
# fewer, fuller pages. Moving 5M staged rows into a bank: importer CPU 22.3 s at 4 KiB, 15.5 s
# at 16 KiB, 13.3 s at 64 KiB; whole 5M-row imports, same session: 188-197k rows/s at 16 KiB,
# 195-207k at 64 KiB. The price, measured on a 5M-entry bank: an exact look-up with a cold
# 2 MiB cache 9.1 (4 KiB) / 10.1 (16 KiB) / 11.1 us, a single-entry commit 1.33 ms (16 KiB)
# against 1.58 ms (p50; p99 3.1 ms both), and a WAL that grows to 64 MB between checkpoints.
SQLITE_PAGE_SIZE = 65_536
SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def normalize_url(raw: str) -> URL:
    """Parse a database URL as users type it and pick Safehold's driver.

    ``postgres://`` and ``postgresql://`` (libpq style, as Heroku and most docs write them)
    become ``postgresql+psycopg://`` (psycopg 3); other URLs are left as given.

    Raises:
        StorageError: the URL does not parse (the message never contains a password).
    """
    text = raw.strip()
    if not text:
        raise StorageError("the database URL is empty")
    try:
        url = make_url(text)
    except ArgumentError:
        scheme = text.split(":", 1)[0] if ":" in text else "?"
        raise StorageError(
            f"database URL with scheme {scheme!r} is not valid; expected e.g. "
            "sqlite:////path/safehold.db or postgresql://user@host:5432/dbname"
        ) from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise StorageError(
            f"database backend {url.get_backend_name()!r} is not supported; "
            "use SQLite (sqlite:///path) or PostgreSQL (postgresql://...)"
        )
    return url


def safe_url(url: URL) -> str:
    """Render ``url`` for messages, with any password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def _scrub(message: str, url: URL) -> str:
    """Remove the password from a driver message, keeping its first line only."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if url.password:
        first = first.replace(str(url.password), "***")
    return re.sub(r"password=\S+", "password=***", first)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite settings: WAL, foreign keys, busy timeout, page cache; the page
    size of a new file (:data:`SQLITE_PAGE_SIZE`).

    WAL lets readers (scans) run while a writer (an import) commits; ``synchronous=NORMAL`` is
    the documented safe pairing with WAL (https://sqlite.org/wal.html#performance_considerations).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a new (empty) file only
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL mode (persistent in the file, so usually already on).

    Switching needs an exclusive lock and SQLite answers "database is locked" at once, without
    waiting for the busy timeout, when another process holds the file (several processes
    opening a fresh file together): retry until the busy timeout runs out.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def create_database_engine(url: URL, *, create_parent: bool = True) -> Engine:
    """Create an :class:`Engine` for ``url`` with Safehold's connection settings.

    With ``create_parent`` (the default data-dir database) the parent folder of an SQLite file
    is created; without it (a database URL the user wrote, where a missing folder is most
    likely a typo) a missing folder is an error. Does not connect.

    Raises:
        StorageError: unknown driver, or the SQLite folder is missing (``create_parent``
            False) or cannot be created.
    """
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            parent = Path(database).expanduser().parent
            if not create_parent and not parent.is_dir():
                raise StorageError(
                    f"cannot use the database {safe_url(url)}: the folder {parent} does not "
                    "exist (check SAFEHOLD_DATABASE_URL for a typo, or create the folder)"
                )
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the directory for {safe_url(url)}: {exc.strerror}"
                ) from None
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    # Row values never reach exception messages or logs (bank hashes, key digests).
    kwargs["hide_parameters"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        hint = (
            " (install the PostgreSQL extra: pip install 'safehold[postgres]')"
            if url.get_backend_name() == "postgresql"
            else ""
        )
        raise StorageError(
            f"no database driver for {url.drivername!r}{hint}: {_scrub(str(exc), url)}"
        ) from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, executemany: bool
) -> None:
    """Refuse text parameters holding a NUL character, on every backend alike.

    PostgreSQL cannot store NUL in text and fails the statement with a driver error, which
    callers would see as a server fault; SQLite would store it. Input validation refuses NUL
    where it knows the field; this is the net under every other path (query filters, names
    in URLs), so the caller gets a 422 naming the problem.

    Raises:
        InvalidInputError: a string parameter contains ``"\x00"``.
    """
    rows = parameters if executemany else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        for value in values or ():
            if isinstance(value, str) and "\x00" in value:
                raise InvalidInputError("text values cannot contain NUL characters")


def is_embedded(url: URL) -> bool:
    """True for SQLite, the embedded database that Safehold migrates by itself."""
    return url.get_backend_name() == "sqlite"


@contextmanager
def storage_errors(url: URL) -> Iterator[None]:
    """Map SQLAlchemy/driver failures while using ``url`` to :class:`StorageError`.

    The message names the database without its password and keeps the first line of the
    driver's message (e.g. "connection refused", "database ... does not exist").
    """
    try:
        yield
    except SafeholdError:
        raise
    except DBAPIError as exc:
        raise StorageError(
            f"cannot use the database {safe_url(url)}: {_scrub(str(exc.orig), url)}"
        ) from None
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot use the database {safe_url(url)}: {_scrub(str(exc), url)}"
        ) from None


def open_database(settings: Settings | None = None, *, migrate_embedded: bool = True) -> Engine:
    """Return an :class:`Engine` for Safehold's database, checked to be at the current schema.

    Args:
        settings: where the database is (``database_url``, else ``<data_dir>/safehold.db``);
            defaults to :func:`safehold.settings.get_settings`.
        migrate_embedded: create or upgrade an SQLite database automatically (default).

    Raises:
        StorageError: the URL is malformed, the backend is not SQLite or PostgreSQL, the
            driver is missing, or the database cannot be reached (messages never contain the
            password).
        DatabaseNotMigratedError: a server database (or SQLite with ``migrate_embedded=False``)
            is not at the current schema; run ``safehold db upgrade``.
    """
    settings = settings or get_settings()
    url = normalize_url(settings.resolved_database_url())
    engine = create_database_engine(url, create_parent=not settings.database_url)
    try:
        with storage_errors(url):
            state = migrate.schema_state(engine)
            if state.is_current:
                return engine
            if state.is_ahead:
                raise StorageError(
                    f"the database {safe_url(url)} has schema revision "
                    f"{state.describe_current()}, which this version of Safehold does not "
                    "know; upgrade Safehold"
                )
            if is_embedded(url) and migrate_embedded:
                migrate.upgrade(engine)
                return engine
            raise DatabaseNotMigratedError(
                f"the database {safe_url(url)} is at schema revision "
                f"{state.describe_current()}, expected {state.describe_head()}; "
                "run `safehold db upgrade` to migrate it"
            )
    except BaseException:
        engine.dispose()
        raise


def database_status(settings: Settings | None = None) -> tuple[str, migrate.SchemaState]:
    """Return the database's name (password hidden) and its :class:`SchemaState`.

    Never migrates (for ``safehold db current``).

    Raises:
        StorageError: bad URL or unreachable database.
    """
    settings = settings or get_settings()
    url = normalize_url(settings.resolved_database_url())
    engine = create_database_engine(url, create_parent=not settings.database_url)
    try:
        with storage_errors(url):
            return safe_url(url), migrate.schema_state(engine)
    finally:
        engine.dispose()


def upgrade_database(
    settings: Settings | None = None, revision: str = "head"
) -> tuple[str, migrate.SchemaState]:
    """Migrate the configured database to ``revision``; return its name and new state.

    Raises:
        StorageError: bad URL, unreachable database, unknown revision, or a failed migration.
    """
    settings = settings or get_settings()
    url = normalize_url(settings.resolved_database_url())
    engine = create_database_engine(url, create_parent=not settings.database_url)
    try:
        with storage_errors(url):
            try:
                migrate.upgrade(engine, revision)
            except CommandError as exc:
                raise StorageError(f"cannot migrate to {revision!r}: {exc}") from None
            return safe_url(url), migrate.schema_state(engine)
    finally:
        engine.dispose()
