"""``safehold serve`` for real: worker processes on a free loopback port, then SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from safehold.api import app as api_app
from safehold.cli import serve
from safehold.cli.main import app
from safehold.settings import get_settings

SAFEHOLD = str(Path(sys.executable).parent / "safehold")
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(base: str, server: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited early: {server.communicate()[1]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready in time")


@pytest.mark.parametrize("workers", [2, 1])
def test_serve(tmp_path: Path, workers: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEHOLD_")}
    env["SAFEHOLD_DATA_DIR"] = str(tmp_path / "data")
    env["TMPDIR"] = str(tmp_path / "tmp")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    (tmp_path / "tmp").mkdir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [SAFEHOLD, "serve", "--port", str(port), "--workers", str(workers), "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(base, server)
        assert httpx.get(f"{base}/v1/keys").status_code == 401
        made = subprocess.run(
            [SAFEHOLD, "key", "create", "first admin", "--scope", "admin", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        secret = json.loads(made.stdout)["secret"]
        headers = {"Authorization": f"Bearer {secret}"}
        keys = httpx.get(f"{base}/v1/keys", headers=headers, timeout=10)
        assert keys.status_code == 200
        assert [k["name"] for k in keys.json()] == ["first admin"]
        for _ in range(20):  # new connections: the kernel spreads them over both workers
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        scraped = httpx.get(f"{base}/metrics", headers=headers, timeout=10)
        assert scraped.status_code == 200
        healthz = sum(
            sample.value
            for family in text_string_to_metric_families(scraped.text)
            for sample in family.samples
            if sample.name == "safehold_http_requests_total"
            and sample.labels.get("route") == "/healthz"
        )
        assert healthz == 20  # every worker's requests, whichever worker answered the scrape
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _out, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, err
    assert f"Safehold serving on {base} ({workers} worker" in err
    assert "safehold key create admin --scope admin" in err  # no key existed at start
    assert "Traceback" not in err
    assert list((tmp_path / "tmp").iterdir()) == []  # the metrics folder is removed


def test_serve_refuses_an_unmigrated_database(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEHOLD_DATABASE_URL", empty_postgres_url)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["serve", "--port", str(_free_port())])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the database")
    assert "run `safehold db upgrade`" in result.stderr
    assert "Traceback" not in result.output
    assert "serving" not in result.output


def test_workers_variable_matches_the_app() -> None:
    assert serve.WORKERS_ENV == api_app.WORKERS_ENV
