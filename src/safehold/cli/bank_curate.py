"""``safehold bank enable|disable|enable-entry|disable-entry|delete|delete-entry``: curate
what matches.

Registered on the ``bank`` command group by :mod:`safehold.cli.bank` (kept apart so each
module stays short). Disabling keeps a bank or entry for later; deleting removes it for good
(the change log tells live indexes to drop it). Failures print ``error: <message>`` and exit
with status 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from safehold.banks.validation import validate_entry_id
from safehold.cli.common import (
    count_noun,
    display_text,
    get_bank_service,
    handle_errors,
    load_settings,
)
from safehold.errors import ConflictError
from safehold.exchanges import ExchangeService


def _set_bank_enabled(name: str, enabled: bool) -> None:
    with handle_errors():
        bank = get_bank_service().update_bank(name, enabled=enabled)
    typer.echo(f"bank {bank.name} {'enabled' if enabled else 'disabled'}")


def disable(name: str = typer.Argument(..., help="Bank name.")) -> None:
    """Stop a bank from matching (its entries are kept)."""
    _set_bank_enabled(name, False)


def enable(name: str = typer.Argument(..., help="Bank name.")) -> None:
    """Let a disabled bank match again."""
    _set_bank_enabled(name, True)


def _set_entry_enabled(entry_id: int, enabled: bool) -> None:
    with handle_errors():
        validate_entry_id(entry_id)  # before opening the database: no driver overflow
        service = get_bank_service()
        service.set_entry_enabled(entry_id, enabled)
        bank = service.get_entry(entry_id).bank_name
    state = "enabled" if enabled else "disabled"
    typer.echo(f"entry {entry_id} {state} (bank {display_text(bank, markup=False)})")


def disable_entry(
    entry_id: int = typer.Argument(..., help="Entry id (from scan matches)."),
) -> None:
    """Stop one entry from matching, e.g. after a confirmed false positive."""
    _set_entry_enabled(entry_id, False)


def enable_entry(entry_id: int = typer.Argument(..., help="Entry id.")) -> None:
    """Let a disabled entry match again."""
    _set_entry_enabled(entry_id, True)


def delete(
    name: str = typer.Argument(..., help="Bank to delete (any case)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    force: bool = typer.Option(
        False, "--force", help="Also delete the exchanges that fetch into the bank."
    ),
) -> None:
    """Delete a bank with all its entries, for good (``disable`` keeps them instead). Refused
    while exchanges fetch into it, unless ``--force`` (they go with it: credentials, checkpoints
    and provenance)."""
    with handle_errors():
        service = get_bank_service()
        bank = service.get_bank(name)
        fed = ExchangeService(service.engine, load_settings()).exchanges_of_bank(bank.name)
        feeders = ", ".join(display_text(e.name, markup=False) for e in fed)
        if fed and not force:
            raise ConflictError(
                f"bank {bank.name} is fed by {count_noun(len(fed), 'exchange')} ({feeders}); "
                "deleting it deletes them too, with their credentials and checkpoints: remove "
                "them first (safehold exchange remove NAME) or give --force"
            )
        if not yes:
            noun = count_noun(bank.entry_count, "entry", "entries")
            also = f" and the exchanges {feeders}" if fed else ""
            typer.confirm(f"delete bank {bank.name} and its {noun}{also}?", abort=True, err=True)
        count = service.delete_bank(bank.name)  # its exchanges go with it (foreign key)
    also = f" and its exchanges {feeders}" if fed else ""
    typer.echo(f"deleted bank {bank.name} ({count_noun(count, 'entry', 'entries')}){also}")


def delete_entry(entry_id: int = typer.Argument(..., help="Entry id.")) -> None:
    """Delete one entry for good (``disable-entry`` keeps it instead)."""
    with handle_errors():
        validate_entry_id(entry_id)
        service = get_bank_service()
        bank = service.get_entry(entry_id).bank_name
        service.delete_entry(entry_id)
    typer.echo(f"deleted entry {entry_id} (bank {display_text(bank, markup=False)})")


#: Command name -> function, registered by ``safehold.cli.bank``.
COMMANDS: dict[str, Callable[..., Any]] = {
    "disable": disable,
    "enable": enable,
    "disable-entry": disable_entry,
    "enable-entry": enable_entry,
    "delete": delete,
    "delete-entry": delete_entry,
}
