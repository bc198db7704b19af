"""``safehold actions``: webhooks run on every match in a bank, and their delivery.

``add`` prints the action's signing secret once; ``deliver`` runs a webhook deliverer in the
foreground (the service runs one per worker already; this is for a separate delivery process
or for draining the outbox by hand); ``dead-letters`` and ``retry`` handle deliveries that
ran out of attempts. Details: ``docs/service.md`` ("Actions and webhooks").
"""

from __future__ import annotations

import json
import signal
import threading
from types import FrameType

import typer
from rich.table import Table

from safehold.actions import ActionService, BankAction, Deliverer, Delivery
from safehold.cli.common import count_noun, display_text, handle_errors, load_settings, make_console
from safehold.storage.engine import open_database

app = typer.Typer(
    help="Webhooks called on every match in a bank, and their deliveries.", no_args_is_help=True
)


def _service() -> ActionService:
    settings = load_settings()
    return ActionService(open_database(settings), settings)


def _delivery_json(d: Delivery) -> dict[str, object]:
    return {
        "id": d.id,
        "action_id": d.action_id,
        "event_id": d.event_id,
        "bank": d.bank_name,
        "url": d.url,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat(timespec="seconds"),
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(timespec="seconds"),
    }


@app.command("add")
def add(
    bank: str = typer.Argument(..., help="The bank whose matches call the webhook."),
    url: str = typer.Argument(..., help="The receiver's http(s) URL (no credentials in it)."),
    max_attempts: int | None = typer.Option(
        None,
        "--max-attempts",
        help="Attempts before a delivery is dead [default: SAFEHOLD_WEBHOOK_MAX_ATTEMPTS].",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the action as one JSON object."),
) -> None:
    """Add a webhook to a bank and print its signing secret (shown this once, never again)."""
    with handle_errors():
        action, secret = _service().create_action(bank, url, max_attempts=max_attempts)
    if as_json:
        typer.echo(json.dumps({**action.to_dict(), "secret": secret}))
        return
    typer.echo(secret)
    typer.echo(
        f"added webhook action {action.id} to bank "
        f"{display_text(action.bank_name, markup=False)!r}.\nThe signing secret above is "
        "shown only now: give it to the receiver, which checks the Safehold-Signature header "
        "with it (docs/service.md).",
        err=True,
    )


def _print_actions(actions: list[BankAction]) -> None:
    table = Table("id", "url", "enabled", "max attempts", "created")
    for a in actions:
        table.add_row(
            str(a.id),
            display_text(a.url),
            "yes" if a.enabled else "no",
            str(a.max_attempts),
            a.created_at.isoformat(timespec="seconds"),
        )
    make_console().print(table)


@app.command("list")
def list_actions(
    bank: str = typer.Argument(..., help="The bank whose actions to list."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
) -> None:
    """List a bank's actions (never their secrets)."""
    with handle_errors():
        actions = _service().list_actions(bank)
        if as_json:
            for a in actions:
                typer.echo(json.dumps(a.to_dict()))
        else:
            _print_actions(actions)


@app.command("remove")
def remove(action_id: int = typer.Argument(..., help="The action's id.")) -> None:
    """Delete an action with its queued deliveries."""
    with handle_errors():
        _service().delete_action(action_id)
    typer.echo(f"removed action {action_id}", err=True)


@app.command("dead-letters")
def dead_letters(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="Most rows to show."),
) -> None:
    """List deliveries given up after their last attempt (queue one again with retry)."""
    with handle_errors():
        dead = _service().list_deliveries("dead", limit=limit)
        if as_json:
            for d in dead:
                typer.echo(json.dumps(_delivery_json(d)))
            return
        table = Table("id", "bank", "url", "attempts", "last error", "created")
        for d in dead:
            table.add_row(
                str(d.id),
                display_text(d.bank_name),
                display_text(d.url),
                str(d.attempts),
                display_text(d.last_error or ""),
                d.created_at.isoformat(timespec="seconds"),
            )
        make_console().print(table)


@app.command("retry")
def retry(delivery_id: int = typer.Argument(..., help="The dead delivery's id.")) -> None:
    """Queue a dead delivery again (attempts start from zero)."""
    with handle_errors():
        _service().retry_dead(delivery_id)
    typer.echo(f"delivery {delivery_id} is queued again", err=True)


@app.command("deliver")
def deliver(
    once: bool = typer.Option(
        False, "--once", help="Make one pass over the due deliveries, then exit."
    ),
    poll: float = typer.Option(
        1.0, "--poll", min=0.01, help="Seconds to wait when nothing is due."
    ),
) -> None:
    """Deliver queued webhooks until stopped (Ctrl-C or SIGTERM), or one pass with --once."""
    with handle_errors():
        settings = load_settings()
        deliverer = Deliverer(open_database(settings), settings)
        try:
            if once:
                done = deliverer.run_once()
                typer.echo(f"attempted {count_noun(done, 'delivery', 'deliveries')}", err=True)
                return
            stop = threading.Event()

            def on_signal(_signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            deliverer.run_forever(stop, poll)
        finally:
            deliverer.close()
