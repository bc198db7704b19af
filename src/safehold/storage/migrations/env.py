"""Alembic environment: runs Safehold's migrations online against one connection.

``safehold.storage.migrate`` passes its connection in ``config.attributes["connection"]`` (inside
a transaction holding the migration lock; batch mode lets SQLite alter tables by copy-and-move);
a bare ``alembic -c .../alembic.ini`` run opens the database named by ``sqlalchemy.url`` or,
when that is unset, by Safehold's settings. Offline (``--sql``) mode renders SQL for the URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from safehold.settings import get_settings
from safehold.storage.engine import create_database_engine, normalize_url
from safehold.storage.tables import Base

config = context.config
target_metadata = Base.metadata


def _url_text() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url()


def run_offline() -> None:
    """Emit the migration SQL without connecting (``alembic upgrade head --sql``)."""
    context.configure(
        url=normalize_url(_url_text()),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate on the caller's connection (committed by the caller), or open the database."""
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_database_engine(normalize_url(_url_text()))
    try:
        with engine.connect() as own:
            _run(own)
            own.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
