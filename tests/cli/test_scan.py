"""``safehold scan`` end to end: JSON Lines, exit status, options, report, cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.settings import Settings

runner = CliRunner()


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(coarse).resize((256, 256), Image.Resampling.BICUBIC).save(path)
    return path


def _scan(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, ["scan", "--workers", "2", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def _media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    _image(root / "one.png", 1)
    _image(root / "two.jpg", 2)
    return root


def _bank_md5(banks: BankService, path: Path, name: str = "known") -> None:
    banks.create_bank(name, source="test")
    value = hashlib.md5(path.read_bytes()).hexdigest()
    banks.add_entries(name, [NewEntry("md5", value, category=Category("vics", "1"))])


def test_clean_scan_writes_one_line_per_file_and_exits_0(
    tmp_path: Path, settings: Settings
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media))
    assert code == 0
    assert [Path(str(line["path"])).name for line in lines] == ["one.png", "two.jpg"]
    assert all(line["matches"] == [] and line["error"] is None for line in lines)
    assert "Scan summary" in stderr
    assert "No bank entries" in stderr


def test_match_exits_1_and_names_bank_entry_and_category(
    tmp_path: Path, bank_service: BankService
) -> None:
    media = _media(tmp_path)
    _bank_md5(bank_service, media / "two.jpg")
    code, lines, _ = _scan(str(media), "--quiet")
    assert code == 1
    matches = {Path(str(line["path"])).name: line["matches"] for line in lines}
    assert matches["one.png"] == []
    (match,) = matches["two.jpg"]  # type: ignore[misc]
    assert match["bank"] == "known"
    assert match["category"] == "vics:1"
    assert match["signal_type"] == "md5"


def test_file_errors_exit_4_and_with_matches_5(tmp_path: Path, bank_service: BankService) -> None:
    media = _media(tmp_path)
    (media / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, lines, stderr = _scan(str(media))
    assert code == 4
    errors = [line["error"] for line in lines if line["error"]]
    assert errors == [errors[0]]
    assert errors[0]["type"] == "corrupt"  # type: ignore[index]
    assert "errors: corrupt" in stderr
    _bank_md5(bank_service, media / "one.png")
    assert _scan(str(media), "-q")[0] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "pdq"], "TYPE=N"),
        (["--threshold", "pdq=999"], "outside 0..256"),
        (["--bank", "missing"], "no bank named 'missing'"),
        (["--signal-type", "nope"], "unknown signal type 'nope'"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_usage_and_fatal_errors_exit_2(
    tmp_path: Path, settings: Settings, args: list[str], message: str
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media), *args)
    assert code == 2
    assert lines == []
    assert message in stderr


def test_output_file_html_report_and_signal_type(tmp_path: Path, bank_service: BankService) -> None:
    media = _media(tmp_path)
    odd = _image(media / "<b>odd & name</b>.png", 3)
    _bank_md5(bank_service, odd)
    out, html = media.parent / "out.jsonl", media.parent / "report.html"
    result = runner.invoke(
        app, ["scan", str(media), "-o", str(out), "--html", str(html), "-s", "md5", "-q"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3
    assert all(list(line["signals"]) == ["md5"] for line in lines)
    page = html.read_text()
    assert "&lt;b&gt;odd &amp; name&lt;/b&gt;.png" in page
    assert "<b>odd" not in page
    assert "<img" not in page.lower()


def test_threshold_override_and_bank_restriction(tmp_path: Path, bank_service: BankService) -> None:
    media = _media(tmp_path)
    # A bank entry 8 bits away from one.png's PDQ: matches by default (31), not with pdq=4.
    _, lines, _ = _scan(str(media / "one.png"), "-q", "-s", "pdq")
    value = int(str(lines[0]["signals"]["pdq"]["value"]), 16) ^ 0xFF  # type: ignore[index]
    bank_service.create_bank("near", source="test")
    bank_service.add_entries("near", [NewEntry("pdq", f"{value:064x}")])
    bank_service.create_bank("other", source="test")
    assert _scan(str(media / "one.png"), "-q")[0] == 1
    (line,) = _scan(str(media / "one.png"), "-q")[1]
    assert [(m["bank"], m["distance"]) for m in line["matches"]] == [("near", 8)]  # type: ignore[index, union-attr]
    assert _scan(str(media / "one.png"), "-q", "--threshold", "pdq=4")[0] == 0
    assert _scan(str(media / "one.png"), "-q", "--bank", "other")[0] == 0


def test_second_run_uses_the_cache_unless_disabled(tmp_path: Path, settings: Settings) -> None:
    media = _media(tmp_path)
    first = _scan(str(media), "-q")[1]
    second = _scan(str(media), "-q")[1]
    uncached = _scan(str(media), "-q", "--no-cache")[1]
    assert [line["cached"] for line in first] == [False, False]
    assert [line["cached"] for line in second] == [True, True]
    assert [line["cached"] for line in uncached] == [False, False]
    assert (settings.data_dir / "scan-cache.sqlite").is_file()
