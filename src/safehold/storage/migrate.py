"""Run Safehold's Alembic migrations from code (``safehold db``, the SQLite auto-migration).

The migration scripts ship inside the package (``safehold/storage/migrations``), so an installed
wheel can migrate without a checkout or an ``alembic.ini`` in the working directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_PACKAGE = "safehold.storage"
MIGRATIONS_DIR = "migrations"


def migrations_path() -> str:
    """Filesystem path of the packaged migrations directory."""
    return str(resources.files(MIGRATIONS_PACKAGE).joinpath(MIGRATIONS_DIR))


def alembic_config(connection: Connection | None = None) -> Config:
    """Build an Alembic :class:`Config` for the packaged migrations.

    Args:
        connection: when given, ``env.py`` runs the migrations on this connection, inside the
            caller's transaction (so SQLite pragmas, the normalised URL and the migration lock
            apply); otherwise ``env.py`` opens the database named by Safehold's settings.
    """
    path = migrations_path()
    config = Config(f"{path}/alembic.ini")
    config.set_main_option("script_location", path)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database's schema stands relative to the packaged migrations.

    Attributes:
        current: revision ids stamped in the database (empty for a fresh database).
        heads: head revision ids of the packaged migrations.
        known: every revision id the packaged migrations know.
    """

    current: tuple[str, ...]
    heads: tuple[str, ...]
    known: frozenset[str]

    @property
    def is_current(self) -> bool:
        """The database is at the newest schema."""
        return set(self.current) == set(self.heads)

    @property
    def is_ahead(self) -> bool:
        """The database carries a revision this code does not know (written by newer code)."""
        return any(rev not in self.known for rev in self.current)

    def describe_current(self) -> str:
        """Human text for :attr:`current` (``none`` for a fresh database)."""
        return ", ".join(self.current) or "none (empty database)"

    def describe_head(self) -> str:
        """Human text for :attr:`heads`."""
        return ", ".join(self.heads)


def schema_state(engine: Engine) -> SchemaState:
    """Read the database's stamped revision and compare with the packaged migrations.

    Raises:
        sqlalchemy.exc.DBAPIError: the database cannot be reached (callers map it).
    """
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as connection:
        current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    known = frozenset(rev.revision for rev in script.walk_revisions())
    return SchemaState(current=current, heads=tuple(sorted(script.get_heads())), known=known)


# Key of the PostgreSQL advisory lock that serialises migrations (any constant bigint; this one
# spells "safe hold" in hex-speak).
PG_MIGRATION_LOCK = 0x5AFE_401D


def _lock(connection: Connection) -> None:
    """Take the database-wide migration lock for the connection's transaction.

    SQLite: ``BEGIN EXCLUSIVE`` (waits up to the busy timeout; Python's sqlite3 module would
    otherwise run DDL outside any transaction). PostgreSQL: a transaction-level advisory lock.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")


def _migrate(engine: Engine, action: Callable[[Config], None], *, skip_if_current: bool) -> None:
    with engine.connect() as connection:
        _lock(connection)
        if skip_if_current:
            script = ScriptDirectory.from_config(alembic_config())
            current = set(MigrationContext.configure(connection).get_current_heads())
            if current == set(script.get_heads()):
                connection.rollback()  # another process migrated while we waited
                return
        action(alembic_config(connection))
        connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (default: newest), atomically.

    Migrations run in one transaction holding a database-wide lock, so processes that open a
    fresh SQLite file at the same moment migrate it once: the others wait, then find it current.

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed (nothing is changed).
        alembic.util.CommandError: unknown revision.
    """
    _migrate(
        engine,
        lambda config: command.upgrade(config, revision),
        skip_if_current=revision == "head",
    )


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision`` (``base`` = empty)."""
    _migrate(engine, lambda config: command.downgrade(config, revision), skip_if_current=False)
