"""``safehold hash FILE...``: signals per file, per-file errors, JSON lines, exit status."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner()


@pytest.fixture
def expected(shared_data: Path) -> dict[str, dict[str, str]]:
    """Reference rows of ``images/expected-hashes.csv`` by file name."""
    with (shared_data / "reference/images/expected-hashes.csv").open() as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}


def test_json_lines_with_a_bad_file_in_the_middle(
    settings: Settings, shared_data: Path, tmp_path: Path, expected: dict[str, dict[str, str]]
) -> None:
    images = shared_data / "reference/images"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    files = [images / "bridge-mods/square-256x256.jpg", broken, images / "tx-resources/LA.png"]
    result = runner.invoke(app, ["hash", *map(str, files), "--json"])
    assert result.exit_code == 4, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(f) for f in files]
    first, bad, last = records
    row = expected["square-256x256.jpg"]
    assert first["signals"]["pdq"] == {
        "value": row["pdq"],
        "quality": int(row["pdq_quality"]),
        "variants": {},
    }
    assert first["signals"]["md5"]["value"] == row["md5"]
    assert first["signals"]["sha256"]["value"] == row["sha256"]
    assert first["error"] is None
    assert bad["error"]["type"] == "unsupported"
    assert bad["signals"] == {}
    assert last["signals"]["pdq"]["value"] == expected["LA.png"]["pdq"]


def test_options_after_files_and_dihedral_variants(settings: Settings, shared_data: Path) -> None:
    path = shared_data / "reference/images/reg-test-input/dih/bridge-1-original.jpg"
    result = runner.invoke(app, ["hash", str(path), "--dihedral", "-t", "pdq", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert list(record["signals"]) == ["pdq"]
    assert sorted(record["signals"]["pdq"]["variants"]) == sorted(
        ["rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1"]
    )


def test_table_marks_low_quality(settings: Settings, shared_data: Path) -> None:
    path = shared_data / "reference/images/tx-resources/I16.png"
    result = runner.invoke(app, ["hash", str(path), "-t", "pdq"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "de2ef0e99ecdfc1d248a0eb055f023d1d61e79c3920cbb55d561c02accab1763" in result.stdout
    assert "36 (low: not matched)" in result.stdout


def test_video_table_and_error_row(settings: Settings, shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "reference/videos/doorknob-hd-no-bar.mp4"
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = runner.invoke(
        app, ["hash", str(clip), str(empty), "-t", "vpdq"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 4
    assert "4 frames" in result.stdout
    assert "empty: the file is empty (0 bytes)" in result.stdout


def test_unknown_signal_type_is_a_usage_error(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["hash", str(tmp_path), "-t", "nope"])
    assert result.exit_code == 2
    assert "unknown signal type 'nope'" in result.output
