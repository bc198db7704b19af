"""``safehold stream``: ``watch`` shows the live view and the alert; the management commands
register, list, stop and show alerts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings, get_settings

from .conftest import HlsStream, LiveServer


@pytest.fixture
def loopback_env(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the CLI's settings reach the loopback test server."""
    monkeypatch.setenv("SAFEHOLD_FETCH_ALLOW_NETWORKS", '["127.0.0.0/8"]')
    monkeypatch.setenv("SAFEHOLD_STREAM_LEASE_SECONDS", "1.5")
    get_settings.cache_clear()


def test_watch_shows_the_stream_and_its_alert(
    live_server: LiveServer,
    clips: dict[str, tuple],
    chair_bank: tuple[str, set[int]],
    clean_streams: object,
    loopback_env: None,
) -> None:
    folder, segments = clips["mixed"]
    live_server.hls["mixed"] = HlsStream(folder, segments, speed=1.0)

    result = CliRunner().invoke(app, ["stream", "watch", live_server.url("/mixed/index.m3u8")])

    assert result.exit_code == 1, result.output  # an alert: the scan's "match" status
    assert "ended" in result.output
    assert "ALERT bank known entry" in result.output
    listed = CliRunner().invoke(app, ["stream", "list"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["status"], r["alerts"]) for r in rows] == [("ended", 1)]
    shown = CliRunner().invoke(app, ["stream", "alerts", str(rows[0]["id"])])
    alert = json.loads(shown.stdout)
    assert alert["bank"] == chair_bank[0]
    assert alert["entry_id"] in chair_bank[1]


def test_watch_exits_4_when_a_stream_fails(
    live_server: LiveServer,
    clean_streams: object,
    loopback_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFEHOLD_STREAM_MAX_RETRIES", "1")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["stream", "watch", live_server.url("/missing/index.m3u8")])

    assert result.exit_code == 4, result.output
    assert "0 alert(s), 1 stream(s) failed" in result.output


def test_add_list_stop(clean_streams: object, loopback_env: None) -> None:
    added = CliRunner().invoke(
        app, ["stream", "add", "http://127.0.0.1:9/live.m3u8?k=secret", "--frames", "3"]
    )
    assert added.exit_code == 0, added.output
    record = json.loads(added.stdout)
    assert record["url"] == "http://127.0.0.1:9"
    assert "secret" not in added.stdout

    stopped = CliRunner().invoke(app, ["stream", "stop", str(record["id"])])

    assert json.loads(stopped.stdout)["status"] == "stopped"
    refused = CliRunner().invoke(app, ["stream", "add", "file:///etc/passwd"])
    assert refused.exit_code != 0
    assert "'file' stream URLs are refused" in refused.output
