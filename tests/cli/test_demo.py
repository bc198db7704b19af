"""``safehold demo``: the main job on benign media, end to end, twice (idempotent)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner()


def test_demo_matches_every_edit_and_nothing_else_and_reruns(
    tmp_path: Path, settings: Settings
) -> None:
    workdir = tmp_path / "demo"
    first = runner.invoke(app, ["demo", "--workdir", str(workdir), "--workers", "2"])
    assert first.exit_code == 0, first.output
    assert "Bank demo-known: 12 entries added" in first.stdout
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
