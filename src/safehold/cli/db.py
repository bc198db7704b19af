"""``safehold db``: create and upgrade the database schema (Alembic migrations).

The default SQLite database migrates itself on first use; a PostgreSQL database is changed only
by ``safehold db upgrade``, run once after installing or upgrading Safehold.
"""

from __future__ import annotations

import typer

from safehold.cli.common import display_text, handle_errors, load_settings
from safehold.errors import InvalidInputError
from safehold.storage.engine import database_status, upgrade_database

#: Exit status of ``db current`` when the schema is not the one this Safehold expects.
EXIT_NOT_CURRENT = 3

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option(
        "head", help="Schema revision to migrate to (forward only; default: newest)."
    ),
) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    with handle_errors():
        wanted = revision.strip().lower()
        if wanted == "base" or wanted.startswith("-") or wanted.startswith("base"):
            raise InvalidInputError(
                f"db upgrade only moves forward; {revision!r} would be a downgrade, which "
                "Safehold does not support (restore a backup instead)"
            )
        name, state = upgrade_database(load_settings(), revision)
    shown = display_text(name, markup=False)
    typer.echo(f"database {shown} is at schema revision {state.describe_current()}")


@app.command("current")
def current() -> None:
    """Show the database's schema revision and whether it is up to date.

    Exit status: 0 up to date; 3 needs migration (or is newer than this Safehold); 2 error.
    """
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
    if not state.is_current:
        raise typer.Exit(EXIT_NOT_CURRENT)
