"""What every command group shares: error reporting and opening the bank database.

``handle_errors`` turns any :class:`~safehold.errors.SafeholdError` into ``error: <message>``
on stderr and exit status 2 (the documented status for usage and fatal errors), so commands
never show a traceback for an expected failure. ``get_bank_service`` opens the database named
by the settings (``SAFEHOLD_DATABASE_URL``, else the default SQLite file, created on first use).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from safehold.banks.service import BankService
from safehold.errors import SafeholdError
from safehold.settings import get_settings
from safehold.storage.engine import open_database

#: Exit status for usage errors and Safehold errors (Click uses 2 for usage errors too).
EXIT_ERROR = 2


def stderr_console() -> Console:
    """A Rich console on stderr, for progress bars, summaries and messages."""
    return Console(stderr=True)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Print ``error: <message>`` to stderr and exit with status 2 on a Safehold error.

    Also catches ``OSError`` (unreadable or unwritable files named on the command line).
    """
    try:
        yield
    except SafeholdError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"error:{where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def get_bank_service() -> BankService:
    """Return a :class:`BankService` on the configured database.

    Raises:
        StorageError: the database cannot be reached.
        DatabaseNotMigratedError: a server database needs ``safehold db upgrade``.
    """
    return BankService(open_database(get_settings()))
