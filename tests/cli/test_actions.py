"""``safehold actions``: add (secret printed once), list, remove, dead-letters, retry and
deliver --once, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from safehold.actions import ActionService
from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings, get_settings

runner = CliRunner()
HOOK = "https://hooks.invalid/safehold"  # .invalid never resolves (RFC 2606)


def test_add_list_remove(bank_service: BankService) -> None:
    bank_service.create_bank("Known-Hashes")
    added = runner.invoke(app, ["actions", "add", "known-hashes", HOOK, "--max-attempts", "3"])
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert len(secret) == 43
    assert "shown only now" in added.stderr

    listed = runner.invoke(app, ["actions", "list", "Known-Hashes", "--json"])
    assert listed.exit_code == 0, listed.output
    (action,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (action["url"], action["max_attempts"], action["enabled"]) == (HOOK, 3, True)
    assert secret not in listed.stdout
    table = runner.invoke(app, ["actions", "list", "Known-Hashes"])
    assert HOOK in table.stdout

    as_json = runner.invoke(app, ["actions", "add", "Known-Hashes", HOOK, "--json"])
    assert len(json.loads(as_json.stdout)["secret"]) == 43

    removed = runner.invoke(app, ["actions", "remove", str(action["id"])])
    assert removed.exit_code == 0, removed.output
    again = runner.invoke(app, ["actions", "remove", str(action["id"])])
    assert again.exit_code == 2
    assert f"no action with id {action['id']}" in again.stderr


def test_add_refuses_unsafe_urls_and_unknown_banks(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    private = runner.invoke(app, ["actions", "add", "b", "http://192.168.0.10/hook"])
    assert private.exit_code == 2
    assert "192.168.0.10 is a private address" in private.stderr
    creds = runner.invoke(app, ["actions", "add", "b", "http://u:hunter2@example.org/"])
    assert creds.exit_code == 2
    assert "hunter2" not in creds.output
    missing = runner.invoke(app, ["actions", "list", "nope"])
    assert missing.exit_code == 2
    assert "no bank named 'nope'" in missing.stderr


def test_deliver_once_then_dead_letters_and_retry(
    engine: Engine, db_settings: Settings, bank_service: BankService
) -> None:
    bank_service.create_bank("b")
    actions = ActionService(engine, db_settings)
    actions.create_action("b", HOOK, max_attempts=1)
    actions.record_matches(
        [MatchInfo("b", 1, "md5", 0, None, "")], content_ref="", origin="scan", api_key_id=None
    )
    once = runner.invoke(app, ["actions", "deliver", "--once"])
    assert once.exit_code == 0, once.output
    assert "attempted 1 delivery" in once.stderr  # hooks.invalid does not resolve: dead

    dead = runner.invoke(app, ["actions", "dead-letters", "--json"])
    assert dead.exit_code == 0, dead.output
    (row,) = [json.loads(line) for line in dead.stdout.splitlines()]
    assert (row["status"], row["attempts"], row["bank"]) == ("dead", 1, "b")
    assert row["last_error"] == "cannot resolve the host of https://hooks.invalid:443"
    assert "hooks.invalid" in runner.invoke(app, ["actions", "dead-letters"]).stdout

    retried = runner.invoke(app, ["actions", "retry", str(row["id"])])
    assert retried.exit_code == 0, retried.output
    assert runner.invoke(app, ["actions", "dead-letters", "--json"]).stdout == ""
    not_dead = runner.invoke(app, ["actions", "retry", str(row["id"])])
    assert not_dead.exit_code == 2
    assert "is not dead" in not_dead.stderr


def test_a_bad_allow_list_setting_is_reported(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEHOLD_FETCH_ALLOW_NETWORKS", '["not-a-network"]')
    get_settings.cache_clear()
    result = runner.invoke(app, ["actions", "deliver", "--once"])
    assert result.exit_code == 2
    assert "SAFEHOLD_FETCH_ALLOW_NETWORKS" in result.stderr
    get_settings.cache_clear()


def test_dead_letters_table_on_an_empty_outbox(engine: Engine) -> None:
    result = runner.invoke(app, ["actions", "dead-letters"])
    assert result.exit_code == 0, result.output
