"""``safehold db``: create and upgrade the database schema (Alembic migrations).

The default SQLite database migrates itself on first use; a PostgreSQL database is changed only
by ``safehold db upgrade``, run once after installing or upgrading Safehold.
"""

from __future__ import annotations

import typer

from safehold.cli.common import display_text, handle_errors, load_settings
from safehold.storage.engine import database_status, upgrade_database

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="Schema revision to migrate to."),
) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    with handle_errors():
        name, state = upgrade_database(load_settings(), revision)
    shown = display_text(name, markup=False)
    typer.echo(f"database {shown} is at schema revision {state.describe_current()}")


@app.command("current")
def current() -> None:
    """Show the database's schema revision and whether it is up to date."""
    with handle_errors():
        name, state = database_status(load_settings())
    typer.echo(f"database: {display_text(name, markup=False)}")
    typer.echo(f"revision: {state.describe_current()}")
    typer.echo(f"newest:   {state.describe_head()}")
    if state.is_current:
        typer.echo("status:   up to date")
    elif state.is_ahead:
        typer.echo("status:   newer than this Safehold; upgrade Safehold")
    else:
        typer.echo("status:   needs migration; run `safehold db upgrade`")
