"""``safehold bank delete``/``delete-entry`` and the bank category options, through Typer's
CliRunner on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.cli import bank
from safehold.errors import NotFoundError
from safehold.exchanges import ExchangeService
from safehold.settings import get_settings

runner = CliRunner(env={"COLUMNS": "200"})


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(bank.app, list(args), input=input)


def test_delete_asks_first_unless_yes(bank_service: BankService) -> None:
    bank_service.create_bank("Gone")
    bank_service.add_entries("gone", [NewEntry("md5", "a" * 32), NewEntry("md5", "b" * 32)])
    refused = invoke("delete", "gone", input="n\n")
    assert refused.exit_code == 1
    assert "delete bank Gone and its 2 entries?" in refused.stderr
    assert bank_service.get_bank("gone").entry_count == 2
    confirmed = invoke("delete", "GONE", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "deleted bank Gone (2 entries)" in confirmed.stdout
    with pytest.raises(NotFoundError):
        bank_service.get_bank("gone")
    bank_service.create_bank("quick")
    assert invoke("delete", "quick", "--yes").exit_code == 0
    missing = invoke("delete", "quick", "--yes")
    assert (missing.exit_code, missing.stderr) == (2, "error: no bank named 'quick'\n")


def test_delete_entry(bank_service: BankService) -> None:
    bank_service.create_bank("b")
    entry = bank_service.add_entry("b", NewEntry("md5", "a" * 32))
    result = invoke("delete-entry", str(entry.id))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"deleted entry {entry.id} (bank b)\n"
    assert bank_service.get_bank("b").entry_count == 0
    again = invoke("delete-entry", str(entry.id))
    assert again.exit_code == 2
    assert f"no bank entry with id {entry.id}" in again.stderr
    assert "no bank entry" in invoke("delete-entry", str(2**64)).stderr


def test_category_and_match_action_options(bank_service: BankService) -> None:
    created = invoke("create", "b", "--category", "ncmec-industry:A1", "--match-action", "block")
    assert created.exit_code == 0, created.output
    got = bank_service.get_bank("b")
    assert (got.category, got.match_action) == (Category("ncmec-industry", "A1"), "block")
    shown = invoke("show", "b").stdout
    assert "category:    ncmec-industry:A1" in shown
    assert "on match:    block" in shown
    assert invoke("update", "b", "--clear-category", "--match-action", "review").exit_code == 0
    got = bank_service.get_bank("b")
    assert (got.category, got.match_action) == (None, "review")
    bad = invoke("update", "b", "--match-action", "erase")
    assert (bad.exit_code, bad.stderr) == (2, "error: match action must be review or block\n")
    bad = invoke("create", "c", "--category", "nocolon")
    assert bad.exit_code == 2
    assert "scheme:code" in bad.stderr


def test_delete_refuses_a_bank_that_exchanges_fetch_into_unless_forced(
    bank_service: BankService, tmp_path: Path
) -> None:
    exchanges = ExchangeService(bank_service.engine, get_settings())
    bank_service.create_bank("fed")
    bank_service.add_entries("fed", [NewEntry("md5", "a" * 32)])
    for name in ("lx", "lp"):
        exchanges.add_exchange(
            name, "list", "fed", settings={"path": str(tmp_path / "l.txt"), "signal_type": "md5"}
        )
    refused = invoke("delete", "fed", "--yes")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: bank fed is fed by 2 exchanges (lp, lx); deleting it deletes them too, with "
        "their credentials and checkpoints: remove them first (safehold exchange remove NAME) "
        "or give --force\n"
    )
    assert bank_service.get_bank("fed").entry_count == 1
    assert [e.name for e in exchanges.list_exchanges()] == ["lp", "lx"]
    asked = invoke("delete", "fed", "--force", input="n\n")
    assert asked.exit_code == 1
    assert "delete bank fed and its 1 entry and the exchanges lp, lx?" in asked.stderr
    forced = invoke("delete", "fed", "--force", "--yes")
    assert forced.exit_code == 0, forced.output
    assert forced.stdout == "deleted bank fed (1 entry) and its exchanges lp, lx\n"
    assert exchanges.list_exchanges() == []
