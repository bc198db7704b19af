"""The ``safehold`` command: wires each command group's module into one Typer app."""

from __future__ import annotations

import typer

from safehold import __version__

app = typer.Typer(
    name="safehold",
    help="Find known child sexual abuse material by hash: banks, scanning, matching.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"safehold {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find known child sexual abuse material by hash: banks, scanning, matching."""


def _register() -> None:
    """Attach the command groups (imported here so ``--help`` stays fast to import)."""
    from safehold.cli import bank, chat, db, demo, scan, signals

    app.add_typer(bank.app, name="bank")
    app.add_typer(chat.app, name="chat")
    app.add_typer(db.app, name="db")
    app.add_typer(signals.app, name="hash")
    app.command("scan")(scan.scan)
    app.command("demo")(demo.demo)

    from safehold.cli import actions

    app.add_typer(actions.app, name="actions")

    from safehold.cli import keys, serve

    app.add_typer(keys.app, name="key")
    app.command("serve")(serve.serve)

    from safehold.cli import exchange

    app.add_typer(exchange.app, name="exchange")

    from safehold.cli import url

    app.add_typer(url.app, name="url")

    from safehold.cli import stream

    app.add_typer(stream.app, name="stream")


_register()
