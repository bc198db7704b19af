"""``safehold scan`` end to end: JSON Lines, exit status, options, report, cache."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.cli.main import app
from safehold.scanning.report import HtmlReport
from safehold.settings import Settings
from safehold.storage.engine import open_database

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
    tmp_path: Path, bank_service: BankService
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media))
    assert code == 8  # no bank entry: nothing to match against, never a clean "0"
    assert "No bank entries" in stderr
    bank_service.create_bank("other", source="test")
    bank_service.add_entries("other", [NewEntry("md5", "0" * 32)])
    code, lines, stderr = _scan(str(media))
    assert code == 0
    assert [Path(str(line["path"])).name for line in lines] == ["one.png", "two.jpg"]
    assert all(line["matches"] == [] and line["error"] is None for line in lines)
    assert "Scan summary" in stderr
    assert "No bank entries" not in stderr


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
    assert _scan(str(media), "-q")[0] == 12  # file errors, and no bank entry to match
    code, lines, stderr = _scan(str(media), "--hash-only")
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
        (["--workers", "100000"], "per CPU core"),
        (["--memory-limit", "512"], "at least 1024 MiB"),
        (["--memory-limit", "99999999999999999"], "at most"),
        (["--memory-limit", str(2**62)], "RLIMIT_AS bound"),
        (["--preshrink", "1"], "0 (off) or at least 64"),
        (["--threshold", "pdq=3", "--threshold", "pdq=5"], "more than once"),
        (["--output", ""], "an empty file name"),
        (["--html", ""], "an empty file name"),
    ],
)
def test_usage_and_fatal_errors_exit_2(
    tmp_path: Path, settings: Settings, args: list[str], message: str
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media), *args)
    assert code == 2
    assert lines == []
    assert message in " ".join(stderr.replace("│", " ").split())


@pytest.mark.parametrize(
    ("path", "message"), [("", "an empty path names no file"), ("-", "standard input")]
)
def test_empty_path_and_dash_are_usage_errors(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, path: str, message: str
) -> None:
    _media(tmp_path)
    monkeypatch.chdir(tmp_path)  # "" used to scan the working folder
    code, lines, stderr = _scan(path)
    assert (code, lines) == (2, [])
    assert message in " ".join(stderr.replace("│", " ").split())


def test_output_file_html_report_and_signal_type(tmp_path: Path, bank_service: BankService) -> None:
    media = _media(tmp_path)
    odd = _image(media / "<b>odd & name</b>.png", 3)
    _bank_md5(bank_service, odd)
    out, html = media.parent / "out.jsonl", media.parent / "report.html"
    result = runner.invoke(
        app, ["scan", str(media), "-o", str(out), "--html", str(html), "-t", "md5", "-q"]
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
    _, lines, _ = _scan(str(media / "one.png"), "-q", "-t", "pdq")
    value = int(str(lines[0]["signals"]["pdq"]["value"]), 16) ^ 0xFF  # type: ignore[index]
    bank_service.create_bank("near", source="test")
    bank_service.add_entries("near", [NewEntry("pdq", f"{value:064x}")])
    bank_service.create_bank("other", source="test")
    assert _scan(str(media / "one.png"), "-q")[0] == 1
    (line,) = _scan(str(media / "one.png"), "-q")[1]
    assert [(m["bank"], m["distance"]) for m in line["matches"]] == [("near", 8)]  # type: ignore[index, union-attr]
    assert _scan(str(media / "one.png"), "-q", "--threshold", "pdq=4")[0] == 0
    assert _scan(str(media / "one.png"), "-q", "--bank", "other")[0] == 8  # empty bank


def test_second_run_uses_the_cache_unless_disabled(tmp_path: Path, settings: Settings) -> None:
    media = _media(tmp_path)
    first = _scan(str(media), "-q")[1]
    second = _scan(str(media), "-q")[1]
    uncached = _scan(str(media), "-q", "--no-cache")[1]
    assert [line["cached"] for line in first] == [False, False]
    assert [line["cached"] for line in second] == [True, True]
    assert [line["cached"] for line in uncached] == [False, False]
    assert (settings.data_dir / "scan-cache.sqlite").is_file()


def test_names_that_are_not_utf8_reach_every_output(tmp_path: Path, settings: Settings) -> None:
    media = _media(tmp_path)
    raw = os.fsencode(media) + b"/bad\xff\xfename.png"
    _image(Path(os.fsdecode(raw)), 3)
    out, html = tmp_path / "out.jsonl", tmp_path / "report.html"
    result = runner.invoke(
        app, ["scan", str(media), "-o", str(out), "--html", str(html), "--hash-only"]
    )
    assert result.exit_code == 0, result.output
    paths = [os.fsencode(json.loads(line)["path"]) for line in out.read_text().splitlines()]
    assert raw in paths  # the JSON escape round-trips to the original bytes
    html.read_text(encoding="utf-8")  # valid UTF-8, not truncated
    broken = _image(media / "zz.jpg", 4)
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    bank = BankService(open_database(settings))
    _bank_md5(bank, Path(os.fsdecode(raw)))
    result = runner.invoke(app, ["scan", str(media), "-o", str(out), "--html", str(html)])
    assert result.exit_code == 5, result.output
    page = html.read_text(encoding="utf-8")
    assert '<td class="path">' + str(media) + "/bad\\xff\\xfename.png</td>" in page
    assert "zz.jpg" in page


def test_an_unexpected_exception_exits_2_never_1(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(self: HtmlReport, summary: object) -> str:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(HtmlReport, "render", explode)
    media = _media(tmp_path)
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["scan", str(media), "--html", str(html), "-q"])
    assert result.exit_code == 2
    assert "error: unexpected RuntimeError: kaboom" in result.stderr
    assert not html.exists()


def test_output_onto_a_file_to_scan_is_refused_and_own_outputs_are_skipped(
    tmp_path: Path, settings: Settings
) -> None:
    media = _media(tmp_path)
    photo = media / "one.png"
    before = photo.read_bytes()
    code, _, stderr = _scan(str(media), "-o", str(photo))
    assert code == 2
    assert "refusing to write" in stderr
    assert "one.png" in stderr
    assert photo.read_bytes() == before
    out, html = media / "out.jsonl", media / "report.html"
    for _ in range(2):  # the second run finds the first run's outputs in the folder
        result = runner.invoke(app, ["scan", str(media), "-o", str(out), "--html", str(html)])
        assert result.exit_code == 8, result.output  # no bank: nothing to match against
        names = [Path(json.loads(line)["path"]).name for line in out.read_text().splitlines()]
        assert names == ["one.png", "two.jpg"]
    assert "own output/cache files skipped" in result.stderr


@pytest.mark.parametrize(
    ("option", "make", "message"),
    [
        ("--html", lambda root: root / "missing" / "x.html", "does not exist"),
        ("--output", lambda root: root, "it is a folder"),
    ],
)
def test_unwritable_outputs_are_found_before_scanning(
    tmp_path: Path,
    settings: Settings,
    option: str,
    make: Callable[[Path], Path],
    message: str,
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media), option, str(make(tmp_path)))
    assert (code, lines) == (2, [])
    assert message in stderr
    assert "Scan summary" not in stderr
    assert not (settings.data_dir / "scan-cache.sqlite").exists()  # nothing was hashed


def test_disabled_banks_are_named_and_the_hints_say_why_nothing_matched(
    tmp_path: Path, bank_service: BankService
) -> None:
    media = _media(tmp_path)
    _, _, stderr = _scan(str(media))
    # No bank at all: the hint, on one line although it is wider than 80 columns.
    hint = (
        "warning: No bank entries to match against: files were hashed only. Load a bank with "
        "`safehold bank import` or `safehold bank add-media` (or pass --hash-only to only "
        "hash)."
    )
    assert hint in stderr.splitlines()
    _bank_md5(bank_service, media / "one.png")
    bank_service.update_bank("known", enabled=False)
    code, lines, stderr = _scan(str(media), "-b", "known")
    assert (code, lines) == (2, [])
    assert "bank 'known' is disabled" in stderr
    assert "safehold bank enable known" in stderr
    code, _, stderr = _scan(str(media), "-q")
    assert code == 8
    assert "every bank is disabled" in stderr  # shown even with --quiet
    assert "Enable one with `safehold bank enable NAME`." in stderr


def test_help_has_plain_placeholders_and_lists_every_exit_status(settings: Settings) -> None:
    result = runner.invoke(app, ["scan", "--help"])
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "{PATH}..." in text
    assert "{paths}" not in text
    # Typer shows its own types for the argument and --help only: options have metavars.
    assert text.count("<list[str]>") == 1
    assert text.count("<bool>") == 1
    assert "Worker processes (at most 4 per CPU core). Default: one per CPU core." in text
    statuses = (
        "0 no match",
        "1 match",
        "8 nothing to match",
        "4 file errors",
        "5 matches",
        "2 usage",
        "130 inter",
    )
    for status in statuses:
        assert status in text
    assert "--threshold" in text


_SCAN_WITH_FAKE_SIGNALS = """
import sys
from dataclasses import replace
from safehold.scanning import config
_from_settings = config.ScanConfig.from_settings.__func__
def from_settings(cls, settings, **overrides):
    made = _from_settings(cls, settings, **overrides)
    return replace(made, plugin_modules=("scanning_fake_signals",))
config.ScanConfig.from_settings = classmethod(from_settings)
from safehold.cli.main import app
app(prog_name="safehold")
"""


def test_ctrl_c_twice_exits_130_and_the_cache_keeps_every_record(
    tmp_path: Path, settings: Settings
) -> None:
    # ``safehold scan`` in its own process group with the fake ``test-behave`` signal type:
    # six files hash at once, the seventh (``sleep-*``) keeps the only worker busy. Then
    # SIGINT twice to the group, as ``timeout -s INT`` and a terminal's Ctrl-C deliver it.
    media = tmp_path / "media"
    for i in range(6):
        _image(media / f"ok-{i}.png", i)
    _image(media / "sleep-1.png", 9)
    out = tmp_path / "out.jsonl"
    plugins = Path(__file__).resolve().parents[1] / "scanning"
    env = {
        **os.environ,
        "SAFEHOLD_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")])),
    }
    args = ["scan", str(media), "-j", "1", "-t", "test-behave", "-q", "-o", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCAN_WITH_FAKE_SIGNALS, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") == 6):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the scan made no progress"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)  # the second one lands while the scan shuts down
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = stderr.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted; the scan cache keeps the files done" in text
    written = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    with sqlite3.connect(settings.data_dir / "scan-cache.sqlite") as db:
        cached = [os.fsdecode(row[0]) for row in db.execute("SELECT path FROM files")]
    assert sorted(cached) == sorted(written)
    assert len(written) == 6


@pytest.mark.parametrize("option", ["--output", "--html"])
@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_outputs_never_replace_a_link_or_special_file(
    tmp_path: Path, settings: Settings, option: str, kind: str
) -> None:
    media = _media(tmp_path)
    target = tmp_path / "target"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(victim)
    code, lines, stderr = _scan(str(media), "-q", option, str(target))
    assert (code, lines) == (2, [])
    assert f"cannot write {target}" in stderr
    assert target.is_fifo() if kind == "fifo" else target.is_symlink()
    assert victim.read_text() == "keep"


def test_output_dash_is_stdout_and_html_dash_is_refused(tmp_path: Path, settings: Settings) -> None:
    media = _media(tmp_path)
    code, lines, _ = _scan(str(media), "-q", "-o", "-", "--hash-only")
    assert code == 0
    assert [Path(str(line["path"])).name for line in lines] == ["one.png", "two.jpg"]
    assert not (Path.cwd() / "-").exists()
    code, lines, stderr = _scan(str(media), "-q", "--html", "-")
    assert (code, lines) == (2, [])
    assert "cannot go to standard output" in stderr


def test_a_file_named_and_inside_a_named_folder_gets_one_record(
    tmp_path: Path, settings: Settings
) -> None:
    media = _media(tmp_path)
    code, lines, stderr = _scan(str(media / "one.png"), str(media), str(media / "one.png"))
    assert code == 8  # no bank
    assert [Path(str(line["path"])).name for line in lines] == ["one.png", "two.jpg"]
    summary = " ".join(stderr.replace("│", " ").split())
    assert "files 2" in summary
    assert "files already scanned (reached twice) 1" in summary
