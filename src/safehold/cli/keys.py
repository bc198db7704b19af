"""``safehold key``: create, list and revoke the HTTP service's API keys.

The first admin key has to come from here, since the key routes of the API need one. A key's
secret is printed once, when it is made; the database keeps only its SHA-256 digest. Revoking
takes effect in every running worker within a second.
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from safehold.auth import SCOPES, ApiKey, KeyService
from safehold.cli.common import display_text, handle_errors, load_settings, make_console
from safehold.storage.engine import open_database

app = typer.Typer(
    help="Create, list and revoke API keys of the HTTP service.", no_args_is_help=True
)


def _service() -> KeyService:
    return KeyService(open_database(load_settings()))


def _key_json(key: ApiKey) -> dict[str, object]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value is not None else None

    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": sorted(key.scopes),
        "rate_limit": key.rate_limit,
        "created_at": when(key.created_at),
        "last_used_at": when(key.last_used_at),
        "revoked_at": when(key.revoked_at),
    }


@app.command("create")
def create(
    name: str = typer.Argument(..., help="A name saying who or what uses the key."),
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        help=f"Scope the key holds (repeat for several): {', '.join(SCOPES)}.",
    ),
    rate_limit: float | None = typer.Option(
        None, "--rate-limit", help="Requests per second [default: SAFEHOLD_API_RATE_LIMIT]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the key as one JSON object."),
) -> None:
    """Create an API key and print its secret (shown this once, never again)."""
    with handle_errors():
        created = _service().create_key(name, scope, rate_limit=rate_limit)
    key = created.key
    if as_json:
        typer.echo(json.dumps({**_key_json(key), "secret": created.secret}))
        return
    typer.echo(created.secret)
    typer.echo(
        f"created key {key.id} {display_text(key.name, markup=False)!r} ({key.prefix}) with "
        f"scopes {', '.join(sorted(key.scopes))}.\nThe secret above is shown only now and "
        "cannot be shown again: store it safely. Send it as `Authorization: Bearer <key>` "
        "or `X-API-Key: <key>`.",
        err=True,
    )


@app.command("list")
def list_keys(
    include_revoked: bool = typer.Option(
        False, "--all", help="Include revoked keys (hidden by default)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per line."),
) -> None:
    """List API keys (never their secrets)."""
    with handle_errors():
        keys = _service().list_keys(include_revoked=include_revoked)
    if as_json:
        for key in keys:
            typer.echo(json.dumps(_key_json(key)))
        return
    if not keys:
        typer.echo("no API keys yet; create one with `safehold key create NAME --scope admin`")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "prefix", "scopes", "created (UTC)", "last used", "revoked"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for key in keys:
        table.add_row(
            str(key.id),
            display_text(key.name),
            key.prefix,
            " ".join(sorted(key.scopes)),
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never",
            key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "no",
        )
    with handle_errors():
        make_console().print(table)


@app.command("revoke")
def revoke(
    id_or_prefix: str = typer.Argument(..., help="The key's id or its public shk_ prefix."),
) -> None:
    """Revoke an API key; running services refuse it within a second."""
    with handle_errors():
        service = _service()
        key = service.revoke(service.find_key(id_or_prefix).id)
    assert key.revoked_at is not None
    typer.echo(
        f"revoked key {key.id} {display_text(key.name, markup=False)!r} ({key.prefix}) at "
        f"{key.revoked_at.isoformat(timespec='seconds')}"
    )
