"""``safehold exchange`` commands, the admin-only exchange routes and the exchange metrics,
with a list exchange fetched from loopback (credentials never printed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from tests.exchanges.conftest import Recorded
from typer.testing import CliRunner

from safehold.api.app import create_app
from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner()
SECRET = "sekret-password-value"


def test_exchange_commands(
    cli_env: None,
    tmp_path: Path,
    recorded: Recorded,
    bank_service: BankService,
    benign_hashes: list[dict[str, str]],
) -> None:
    recorded.script("/l.txt", (200, "\n".join(r["md5"] for r in benign_hashes[:3]).encode()))
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"username": "u", "password": SECRET}))
    url = f"url={recorded.url}/l.txt"
    added = runner.invoke(
        app, ["exchange", "add", "web", "list", "lists", "-s", url, "-s", "signal_type=md5"]
    )
    assert added.exit_code == 0, added.output
    nc = runner.invoke(
        app,
        ["exchange", "add", "nc", "ncmec", "lists", "--credentials-file", str(creds), "--disabled"],
    )
    assert nc.exit_code == 0, nc.output

    fetched = runner.invoke(app, ["exchange", "fetch", "web", "--json"])
    assert fetched.exit_code == 0, fetched.output
    report = json.loads(fetched.stdout)
    assert (report["added"], report["records"], report["caught_up"]) == (3, 3, True)
    assert len(list(bank_service.iter_entries("lists"))) == 3

    listed = runner.invoke(app, ["exchange", "list", "--json"])
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert (rows["web"]["records"], rows["web"]["enabled"], rows["web"]["failures"]) == (3, True, 0)
    assert (rows["nc"]["has_credentials"], rows["nc"]["enabled"]) == (True, False)
    assert rows["web"]["last_success_at"] is not None
    for command in (["exchange", "list"], ["exchange", "status", "nc", "--json"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output

    assert runner.invoke(app, ["exchange", "enable", "nc"]).exit_code == 0
    assert runner.invoke(app, ["exchange", "disable", "web"]).exit_code == 0
    status = json.loads(runner.invoke(app, ["exchange", "status", "web", "--json"]).stdout)
    assert status["enabled"] is False
    rekey = runner.invoke(app, ["exchange", "rekey"])
    assert "re-encrypted the credentials of 1 exchange" in rekey.stderr
    assert len(runner.invoke(app, ["exchange", "new-key"]).stdout.strip()) == 44

    removed = runner.invoke(app, ["exchange", "remove", "web"])
    assert removed.exit_code == 0, removed.output
    assert len(list(bank_service.iter_entries("lists"))) == 3  # the bank keeps its entries
    missing = runner.invoke(app, ["exchange", "fetch", "web"])
    assert missing.exit_code == 2
    assert "no exchange named 'web'" in missing.stderr
    bad = runner.invoke(app, ["exchange", "add", "x", "nosuch", "lists"])
    assert bad.exit_code == 2
    assert "unknown exchange kind 'nosuch'" in bad.stderr


def test_routes_and_metrics(
    exchange_settings: Settings,
    recorded: Recorded,
    benign_hashes: list[dict[str, str]],
) -> None:
    recorded.script("/l.txt", (200, "\n".join(r["md5"] for r in benign_hashes[:2]).encode()))
    settings = exchange_settings.model_copy(
        update={"exchange_poll_seconds": 0.05, "index_poll_seconds": 0.05}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        state = client.app.state.safehold  # type: ignore[attr-defined]
        state.banks.create_bank("lists")
        state.exchanges.add_exchange(
            "web", "list", "lists", settings={"url": f"{recorded.url}/l.txt", "signal_type": "md5"}
        )
        admin = {"Authorization": f"Bearer {state.keys.create_key('a', ['admin']).secret}"}
        curator = {"Authorization": f"Bearer {state.keys.create_key('c', ['curator']).secret}"}
        for _ in range(200):  # the service's background fetcher picks the new exchange up
            body = client.get("/v1/exchanges/web", headers=admin).json()
            if body["last_success_at"]:
                break
            time.sleep(0.05)
        assert (body["records"], body["failures"], body["kind"]) == (2, 0, "list")
        assert body["lag_seconds"] is not None
        assert body["lag_seconds"] >= 0
        listed = client.get("/v1/exchanges", headers=admin)
        assert [e["name"] for e in listed.json()] == ["web"]
        assert client.get("/v1/exchanges", headers=curator).status_code == 403
        missing = client.get("/v1/exchanges/nope", headers=admin)
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found"
        metrics = client.get("/metrics", headers=admin).text
        assert 'safehold_exchange_records{exchange="web"} 2.0' in metrics
        assert 'safehold_exchange_consecutive_failures{exchange="web"} 0.0' in metrics
        assert 'safehold_exchange_entries_added_total{exchange="web"} 2.0' in metrics
        assert 'safehold_exchange_lag_seconds{exchange="web"}' in metrics


def test_deleting_a_bank_over_http_refuses_while_exchanges_feed_it(
    exchange_settings: Settings,
) -> None:
    """As ``safehold bank delete``: the /v1 route answers 409 naming the exchanges unless
    ``force=true``; the HMA route (no force) refuses too, so credentials are never lost by
    accident."""
    with TestClient(create_app(exchange_settings), raise_server_exceptions=False) as client:
        state = client.app.state.safehold  # type: ignore[attr-defined]
        for bank in ("fed", "HMA_FED"):
            state.banks.create_bank(bank)
            state.exchanges.add_exchange(
                f"{bank.lower()}-list",
                "list",
                bank,
                settings={"url": "https://lists.example.org/l.txt", "signal_type": "md5"},
                enabled=False,
            )
        curator = {"Authorization": f"Bearer {state.keys.create_key('c', ['curator']).secret}"}

        refused = client.delete("/v1/banks/fed", headers=curator)
        assert refused.status_code == 409
        assert refused.json()["error"]["type"] == "conflict"
        assert "fed-list" in refused.json()["error"]["message"]
        hma = client.delete("/c/bank/HMA_FED", headers=curator)
        assert hma.status_code == 409
        assert [e.name for e in state.exchanges.list_exchanges()] == ["fed-list", "hma_fed-list"]

        forced = client.delete("/v1/banks/fed?force=true", headers=curator)
        assert forced.status_code == 204
        assert client.get("/v1/banks/fed", headers=curator).status_code == 404
        assert [e.name for e in state.exchanges.list_exchanges()] == ["hma_fed-list"]
