"""``safehold exchange``: hash-list sources fetched on a schedule (docs/exchanges.md).

``add`` configures an exchange that fetches into a bank (credentials are read from a JSON file
or prompted for with hidden input, never taken from the command line, and stored encrypted);
``fetch`` runs one fetch now; ``status`` shows checkpoints, lag and errors; ``rekey`` and
``new-key`` handle the credential key; ``federation-keygen`` and ``federation-public-key`` the
federation publisher key.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from safehold.cli.common import (
    count_noun,
    display_text,
    get_bank_service,
    handle_errors,
    load_settings,
    make_console,
)
from safehold.errors import InvalidInputError
from safehold.exchanges import ExchangeFetcher, ExchangeService, ExchangeStatus
from safehold.exchanges.credentials import new_key
from safehold.exchanges.federation_protocol import new_key_pair, public_key_text, publisher_key
from safehold.storage.engine import open_database
from safehold.storage.tables import utcnow

app = typer.Typer(help="Exchanges: hash-list sources fetched into banks.", no_args_is_help=True)


def _service() -> ExchangeService:
    settings = load_settings()
    return ExchangeService(open_database(settings), settings)


def _parse_settings(items: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--setting {item!r} must be written name=value")
        settings[key.strip()] = value.strip()
    return settings


def _read_credentials(path: Path | None, names: list[str]) -> dict[str, str]:
    credentials: dict[str, str] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(
                f"cannot read the credentials file ({type(exc).__name__})"
            ) from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise InvalidInputError("the credentials file must hold one JSON object of strings")
        credentials.update({str(k): v for k, v in loaded.items()})
    for name in names:
        credentials[name] = typer.prompt(name, hide_input=True)
    return credentials


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _status_json(s: ExchangeStatus) -> dict[str, object]:
    e = s.exchange
    lag = s.lag_seconds(utcnow())
    return {
        "name": e.name,
        "kind": e.kind,
        "bank": e.bank_name,
        "enabled": e.enabled,
        "interval_seconds": e.interval_seconds,
        "has_credentials": e.has_credentials,
        "fetching": s.fetching,
        "runs": s.runs,
        "last_attempt_at": _when(s.last_attempt_at),
        "last_success_at": _when(s.last_success_at),
        "last_error": s.last_error,
        "last_error_at": _when(s.last_error_at),
        "failures": s.failures,
        "as_of": _when(s.as_of),
        "lag_seconds": None if lag is None else round(lag, 1),
        "records": s.records,
        "records_total": s.records_total,
        "added_total": s.added_total,
        "removed_total": s.removed_total,
        "skipped_total": s.skipped_total,
    }


@app.command("add")
def add(
    name: str = typer.Argument(..., help="The exchange's name (the bank name rule)."),
    kind: str = typer.Argument(..., help="ncmec, stopncii, threatexchange or list."),
    bank: str = typer.Argument(..., help="The bank its signals go into (it must exist)."),
    setting: list[str] = typer.Option(
        [], "--setting", "-s", help="A source setting name=value (repeat for more)."
    ),
    credentials_file: Path | None = typer.Option(
        None, "--credentials-file", help="A JSON object of credentials, e.g. username/password."
    ),
    credential: list[str] = typer.Option(
        [], "--credential", help="A credential name to prompt for with hidden input (repeat)."
    ),
    interval: int = typer.Option(3600, "--interval", help="Seconds between scheduled fetches."),
    disabled: bool = typer.Option(False, "--disabled", help="Add it without scheduling it."),
) -> None:
    """Add an exchange; its credentials are stored encrypted with the exchange key."""
    with handle_errors():
        exchange = _service().add_exchange(
            name,
            kind,
            bank,
            settings=_parse_settings(setting),
            credentials=_read_credentials(credentials_file, credential),
            interval_seconds=interval,
            enabled=not disabled,
        )
    typer.echo(
        f"added {exchange.kind} exchange {display_text(exchange.name, markup=False)!r} "
        f"into bank {display_text(exchange.bank_name, markup=False)!r}",
        err=True,
    )


@app.command("list")
def list_exchanges(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
) -> None:
    """List exchanges (never their credentials)."""
    status(None, as_json)


@app.command("status")
def status(
    name: str | None = typer.Argument(None, help="One exchange (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
) -> None:
    """Show each exchange's last fetch, lag behind its source, errors and counts."""
    with handle_errors():
        rows = [_status_json(s) for s in _service().statuses(name)]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("name", "kind", "bank", "enabled", "last success", "lag s", "records", "error")
    for r in rows:
        table.add_row(
            display_text(str(r["name"])),
            str(r["kind"]),
            display_text(str(r["bank"])),
            "yes" if r["enabled"] else "no",
            str(r["last_success_at"] or "never"),
            "" if r["lag_seconds"] is None else str(r["lag_seconds"]),
            str(r["records"]),
            display_text(str(r["last_error"] or "")),
        )
    make_console().print(table)


@app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="The exchange to fetch now (enabled or not)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Fetch an exchange now, from its last checkpoint, and report what changed."""
    with handle_errors():
        fetcher = ExchangeFetcher(_service(), get_bank_service())
        report = fetcher.fetch(name)
    if as_json:
        typer.echo(json.dumps(asdict(report)))
        return
    typer.echo(
        f"{report.exchange}: {count_noun(report.records, 'record update')} in "
        f"{count_noun(report.batches, 'batch', 'batches')}, {report.added:,} added, "
        f"{report.removed:,} removed, {report.skipped:,} skipped"
        + (", caught up" if report.caught_up else ""),
        err=True,
    )


@app.command("remove")
def remove(name: str = typer.Argument(..., help="The exchange to remove.")) -> None:
    """Remove an exchange (its bank keeps the entries it fetched)."""
    with handle_errors():
        _service().remove_exchange(name)
    typer.echo(f"removed exchange {display_text(name, markup=False)!r}", err=True)


@app.command("enable")
def enable(name: str = typer.Argument(..., help="The exchange to schedule again.")) -> None:
    """Schedule an exchange's fetches again."""
    with handle_errors():
        _service().set_enabled(name, True)
    typer.echo(f"enabled exchange {display_text(name, markup=False)!r}", err=True)


@app.command("disable")
def disable(name: str = typer.Argument(..., help="The exchange to stop scheduling.")) -> None:
    """Stop scheduled fetches of an exchange (``fetch`` still works)."""
    with handle_errors():
        _service().set_enabled(name, False)
    typer.echo(f"disabled exchange {display_text(name, markup=False)!r}", err=True)


@app.command("rekey")
def rekey() -> None:
    """Re-encrypt every exchange's credentials with the first key of SAFEHOLD_EXCHANGE_KEY."""
    with handle_errors():
        count = _service().rekey()
    typer.echo(f"re-encrypted the credentials of {count_noun(count, 'exchange')}", err=True)


@app.command("new-key")
def new_key_command() -> None:
    """Print a new random exchange credential key (for SAFEHOLD_EXCHANGE_KEY or its file)."""
    typer.echo(new_key())


@app.command("federation-keygen")
def federation_keygen(
    key_file: Path = typer.Argument(..., help="Where to write the private key (PEM, mode 600)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
) -> None:
    """Make the federation publisher key pair: write the Ed25519 private key to KEY_FILE (for
    SAFEHOLD_FEDERATION_KEY_FILE) and print the public key that subscribers configure."""
    pem, public = new_key_pair()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    with handle_errors():
        try:
            fd = os.open(key_file, flags, 0o600)
        except FileExistsError:
            raise InvalidInputError(f"{key_file} exists; give --force to replace it") from None
        except OSError as exc:
            raise InvalidInputError(f"cannot write {key_file}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    typer.echo(public)


@app.command("federation-public-key")
def federation_public_key() -> None:
    """Print the public key of this server's federation publisher key (what subscribers set
    as ``-s public_key=...``)."""
    with handle_errors():
        key = publisher_key(load_settings())
    typer.echo(public_key_text(key))
