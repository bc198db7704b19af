"""``safehold demo``: the main job on benign media, end to end, twice (idempotent), in its own
database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.settings import Settings
from safehold.storage.engine import open_database

runner = CliRunner()


def test_demo_matches_every_edit_and_nothing_else_and_reruns(
    tmp_path: Path, settings: Settings
) -> None:
    workdir = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--workdir", str(workdir), "--workers", "2"])
    assert first.exit_code == 0, first.output
    assert "Bank demo-known: 16 entries added" in first.stdout
    assert "All 22 edited copies matched; none of the 8 unrelated files did." in first.stdout
    lines = [json.loads(line) for line in (workdir / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 30
    by_name = {Path(line["path"]).name: line for line in lines}
    rotated = by_name["coffee-rotated90.png"]["matches"]
    assert {m["variant"] for m in rotated} == {"rotate270"}  # PIL rotates counter-clockwise
    assert {m["category"] for line in lines for m in line["matches"]} == {"local:demo"}
    assert [m["signal_type"] for m in by_name["shapes-reencoded.mp4"]["matches"]] == ["vpdq"]
    page = (workdir / "report.html").read_text()
    assert "coffee-rotated90.png" in page
    assert "<img" not in page.lower()

    second = runner.invoke(app, ["demo", "--workdir", str(workdir), "--workers", "2"])
    assert second.exit_code == 0, second.output
    assert "Bank demo-known: 0 entries added" in second.stdout
    again = [json.loads(line) for line in (workdir / "results.jsonl").read_text().splitlines()]
    assert all(line["cached"] for line in again)
    assert [line["matches"] for line in again] == [line["matches"] for line in lines]

    # The demo bank and cache live in the demo's own data directory, never the configured one.
    assert (workdir / "data" / "safehold.db").is_file()
    assert (workdir / "data" / "scan-cache.sqlite").is_file()
    assert not settings.data_dir.exists()


def test_demo_bank_goes_to_the_configured_database_only_when_asked(
    tmp_path: Path, settings: Settings
) -> None:
    workdir = tmp_path / "demo"
    args = ["demo", "--workdir", str(workdir), "--workers", "2", "--no-video", "-q"]
    result = runner.invoke(app, [*args, "--use-configured-database"])
    assert result.exit_code == 0, result.output
    assert not (workdir / "data").exists()
    service = BankService(open_database(settings))
    assert service.get_bank("demo-known").entry_count > 0
