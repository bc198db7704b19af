"""``safehold hash FILE...``: signals per file, per-file errors, JSON lines, exit status."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.settings import Settings, get_settings

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
        "variant_qualities": {},
        "partial": None,
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
    # Its own value is not matched; its depth-normalised variant (quality 100) is searched.
    assert "36 (low: variants only)" in result.stdout
    assert "depth-normalised (quality 100)" in result.stdout


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


def test_missing_file_and_folder_use_the_scan_codes(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["hash", str(tmp_path / "missing.jpg"), str(tmp_path), "--json"])
    assert result.exit_code == 4
    missing, folder = (json.loads(line) for line in result.stdout.splitlines())
    assert missing["error"] == {"type": "not_found", "message": "no such file or directory"}
    assert folder["error"]["type"] == "unreadable"
    assert folder["error"]["message"].startswith("cannot hash: a directory")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    broken = runner.invoke(app, ["hash", str(tmp_path / "broken"), "--json"])
    assert json.loads(broken.stdout)["error"]["type"] == "not_found"


def test_truncated_video_prints_its_signal_and_a_corrupt_error(
    settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    whole = (shared_data / "reference/videos/chair-20-sd-bar.mp4").read_bytes()
    cut = tmp_path / "trunc_half.mp4"
    cut.write_bytes(whole[:1175152])
    result = runner.invoke(app, ["hash", str(cut), "-t", "vpdq", "--json"])
    assert result.exit_code == 4
    record = json.loads(result.stdout)
    message = "video data ends early: decoded 8.6 s of 20.5 s; hashed the decodable part"
    assert record["error"] == {"type": "corrupt", "message": message}
    assert record["signals"]["vpdq"]["partial"] == message
    assert record["signals"]["vpdq"]["value"].count("\n") + 1 == 9


def test_sixteen_bit_photo_shows_its_depth_normalised_variant(
    settings: Settings, tmp_path: Path
) -> None:
    camera = skimage_data.camera()
    eight, sixteen = tmp_path / "camera8.png", tmp_path / "camera16.png"
    Image.fromarray(camera).save(eight)
    Image.fromarray(camera.astype(np.uint16) * 257).save(sixteen)
    result = runner.invoke(app, ["hash", str(eight), str(sixteen), "-t", "pdq", "--json"])
    assert result.exit_code == 0, result.output
    plain, wide = (json.loads(line)["signals"]["pdq"] for line in result.stdout.splitlines())
    assert wide["quality"] == 0
    assert wide["variants"] == {"depth-normalised": plain["value"]}
    assert wide["variant_qualities"] == {"depth-normalised": 100}


def test_piped_table_keeps_hashes_and_names_whole(
    settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "reference/images/bridge-mods/aaa-orig.jpg"
    odd = tmp_path / "a\x1b[2Jb [red]x.jpg"
    odd.write_bytes(source.read_bytes())
    result = runner.invoke(app, ["hash", str(odd), "-t", "sha256"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    sha256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
    (line,) = [line for line in result.stdout.splitlines() if sha256 in line]
    assert f"{tmp_path}/a\\x1b[2Jb [red]x.jpg" in line  # escaped, markup shown as text
    assert "\x1b" not in result.stdout


def test_bad_setting_is_a_clean_usage_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEHOLD_PDQ_MIN_QUALITY", "lots")
    get_settings.cache_clear()
    result = runner.invoke(app, ["hash", str(tmp_path)])
    assert result.exit_code == 2
    assert "error: setting SAFEHOLD_PDQ_MIN_QUALITY" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preshrink", "1"], "0 (off) or at least 64"),  # the same bound as scan
        (["--preshrink", "63"], "0 (off) or at least 64"),
        ([""], "an empty path names no file"),  # not the current folder
    ],
)
def test_hash_shares_scans_option_checks(args: list[str], message: str, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    result = runner.invoke(app, ["hash", *args, *([str(image)] if args[0] else [])])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
