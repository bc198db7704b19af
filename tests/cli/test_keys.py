"""``safehold key create|list|revoke`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from safehold.auth import KeyService
from safehold.cli.main import app
from safehold.storage.tables import api_keys

runner = CliRunner()


def test_create_prints_the_secret_once(engine: Engine) -> None:
    made = runner.invoke(app, ["key", "create", "ops admin", "--scope", "admin"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("shk_")
    assert "\n" not in secret
    assert "shown only now" in made.stderr
    assert "cannot be shown again" in made.stderr
    key = KeyService(engine).authenticate(secret)
    assert key.name == "ops admin"
    assert key.scopes == {"admin"}

    listed = runner.invoke(app, ["key", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ops admin" in listed.stdout
    assert key.prefix in listed.stdout
    assert secret not in listed.output
    with engine.connect() as c:
        stored = " ".join(str(v) for v in c.execute(select(api_keys)).all())
    assert secret.removeprefix(key.prefix + "_") not in stored


def test_create_json_with_scopes_and_rate(engine: Engine) -> None:
    made = runner.invoke(
        app,
        [
            "key",
            "create",
            "bench",
            "--scope",
            "matcher",
            "--scope",
            "client",
            "--rate-limit",
            "5",
            "--json",
        ],
    )
    assert made.exit_code == 0, made.output
    record = json.loads(made.stdout)
    assert record["scopes"] == ["client", "matcher"]
    assert record["rate_limit"] == 5
    assert KeyService(engine).authenticate(record["secret"]).id == record["id"]
    lines = runner.invoke(app, ["key", "list", "--json"]).stdout.splitlines()
    mine = [json.loads(line) for line in lines if json.loads(line)["id"] == record["id"]]
    assert mine
    assert "secret" not in mine[0]


def test_revoke_by_id_and_prefix(engine: Engine) -> None:
    service = KeyService(engine)
    first = service.create_key("first", "curator")
    second = service.create_key("second", "client")
    by_id = runner.invoke(app, ["key", "revoke", str(first.key.id)])
    assert by_id.exit_code == 0, by_id.output
    assert f"revoked key {first.key.id} 'first'" in by_id.stdout
    by_prefix = runner.invoke(app, ["key", "revoke", second.key.prefix])
    assert by_prefix.exit_code == 0, by_prefix.output
    assert all(k.revoked for k in (service.get_key(first.key.id), service.get_key(second.key.id)))
    hidden = runner.invoke(app, ["key", "list"]).stdout
    assert second.key.prefix not in hidden
    shown = runner.invoke(app, ["key", "list", "--all"]).stdout
    assert second.key.prefix in shown


def test_key_errors(engine: Engine) -> None:
    bad_scope = runner.invoke(app, ["key", "create", "x", "--scope", "root"])
    assert bad_scope.exit_code == 2
    assert bad_scope.stderr.startswith("error: unknown scope 'root'")
    missing = runner.invoke(app, ["key", "revoke", "shk_zzzzzzzz"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no API key")
    no_scope = runner.invoke(app, ["key", "create", "x"])
    assert no_scope.exit_code == 2  # --scope is required
    bad_rate = runner.invoke(app, ["key", "create", "x", "--scope", "admin", "--rate-limit", "-1"])
    assert bad_rate.exit_code == 2
    assert "rate limit" in bad_rate.stderr
