"""scan(): one record per file in walk order, per-file errors, the cache, re-matching, bounds."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import ConflictError, InvalidInputError, NotFoundError
from safehold.scanning import ScanConfig, ScanRecord, ScanSummary, scan
from safehold.scanning.cache import ScanCache
from safehold.scanning.config import max_workers
from safehold.scanning.pipeline import builtin_signal_types
from safehold.settings import Settings

ScanRunner = Callable[..., tuple[list[ScanRecord], ScanSummary]]

RECORD_KEYS = {"path", "content_type", "size", "signals", "matches", "error", "cached"}


def _names(records: list[ScanRecord], root: Path) -> list[str]:
    return [os.path.relpath(r.path, root) for r in records]


def test_one_record_per_file_in_walk_order(image_tree: Path, run_scan: ScanRunner) -> None:
    records, summary = run_scan([image_tree])
    assert _names(records, image_tree) == ["a.png", "b.jpg", "sub/c.png", "sub/deeper/d.jpg"]
    for record in records:
        data = json.loads(record.to_json())
        assert set(data) == RECORD_KEYS
        assert data["error"] is None
        assert data["matches"] == []
        assert data["cached"] is False
        assert data["content_type"] == "photo"
        raw = Path(record.path).read_bytes()
        assert data["size"] == len(raw)
        assert data["signals"]["md5"] == {"value": hashlib.md5(raw).hexdigest(), "quality": None}
        assert data["signals"]["sha256"]["value"] == hashlib.sha256(raw).hexdigest()
        assert len(data["signals"]["pdq"]["value"]) == 64
        assert data["signals"]["pdq"]["quality"] >= 50
    assert (summary.files, summary.hashed, summary.cached, summary.error_count) == (4, 4, 0, 0)
    assert summary.bank_entries == 0
    assert summary.exit_status() == 8  # nothing to match against
    assert summary.exit_status(hash_only=True) == 0


def test_bad_files_get_one_error_each_and_the_batch_goes_on(
    tmp_path: Path, make_image: Callable[..., Path], run_scan: ScanRunner
) -> None:
    media = tmp_path / "media"
    make_image(media / "good.png", seed=1)
    (media / "empty.jpg").write_bytes(b"")
    (media / "notes.txt").write_text("not an image")
    good = (media / "good.png").read_bytes()
    (media / "truncated.png").write_bytes(good[: len(good) // 3])
    records, summary = run_scan([media])
    by_name = {Path(r.path).name: r for r in records}
    assert by_name["good.png"].error is None
    assert {n: r.error.type for n, r in by_name.items() if r.error} == {
        "empty.jpg": "empty",
        "notes.txt": "unsupported",
        "truncated.png": "corrupt",
    }
    # The truncated PNG still has its exact hashes (md5 of the bytes it has).
    assert set(by_name["truncated.png"].signals) == {"md5", "sha1", "sha256"}
    assert summary.errors == {"empty": 1, "unsupported": 1, "corrupt": 1}
    assert summary.exit_status(hash_only=True) == 4  # and 12 (+8) with nothing to match


def test_signal_type_restriction(image_tree: Path, run_scan: ScanRunner) -> None:
    records, _ = run_scan([image_tree / "a.png"], signal_types=("md5",), service=None)
    assert list(records[0].signals) == ["md5"]


def test_rerun_hashes_only_the_changed_file(
    image_tree: Path, make_image: Callable[..., Path], run_scan: ScanRunner
) -> None:
    first, _ = run_scan([image_tree])
    assert [r.cached for r in first] == [False] * 4
    make_image(image_tree / "b.jpg", seed=99)
    second, summary = run_scan([image_tree])
    assert [(Path(r.path).name, r.cached) for r in second] == [
        ("a.png", True),
        ("b.jpg", False),
        ("c.png", True),
        ("d.jpg", True),
    ]
    assert (summary.hashed, summary.cached) == (1, 3)
    # Cached records carry the same signals as the first run.
    assert second[0].signals == first[0].signals
    assert second[1].signals["md5"] != first[1].signals["md5"]


def test_cache_is_per_options_and_can_be_disabled(image_tree: Path, run_scan: ScanRunner) -> None:
    run_scan([image_tree])
    records, _ = run_scan([image_tree], cache_path=None)
    assert not any(r.cached for r in records)
    dihedral, _ = run_scan([image_tree], dihedral=True)
    assert not any(r.cached for r in dihedral)


def test_cached_files_are_matched_against_the_current_banks(
    image_tree: Path, run_scan: ScanRunner, banks: BankService
) -> None:
    first, _ = run_scan([image_tree])
    assert all(r.matches == [] for r in first)
    banks.create_bank("known", source="test")
    md5 = first[2].signals["md5"].value
    banks.add_entries("known", [NewEntry("md5", md5, category=Category("local", "x"), source="s")])
    second, summary = run_scan([image_tree])
    matched = [r for r in second if r.matches]
    assert [Path(r.path).name for r in matched] == ["c.png"]
    assert matched[0].cached is True
    (m,) = matched[0].matches
    assert (m.bank, m.signal_type, m.distance, m.category, m.source, m.variant) == (
        "known",
        "md5",
        0,
        "local:x",
        "s",
        None,
    )
    assert summary.exit_status() == 1
    banks.update_bank("known", enabled=False)
    third, _ = run_scan([image_tree])
    assert all(r.matches == [] for r in third)


def test_killed_scan_resumes_where_it_stopped(
    image_tree: Path, run_scan: ScanRunner, scan_config: ScanConfig
) -> None:
    seen: list[ScanRecord] = []

    class KilledError(Exception):
        pass

    def die_after_two(record: ScanRecord) -> None:
        seen.append(record)
        if len(seen) == 2:
            raise KilledError

    config = replace(scan_config, cache_commit_every=1)
    with pytest.raises(KilledError):
        scan([image_tree], config=config, banks=None, on_record=die_after_two)
    records, summary = run_scan([image_tree])
    assert [r.cached for r in records[:2]] == [True, True]
    assert summary.hashed <= 2


def test_file_timeout_gives_timeout_records_that_are_retried(
    tmp_path: Path, make_image: Callable[..., Path], run_scan: ScanRunner, fake_plugin: str
) -> None:
    media = tmp_path / "media"
    make_image(media / "sleep-1.png", seed=1)
    make_image(media / "sleep-2.png", seed=2)
    fake = {"signal_types": ("test-behave",), "plugin_modules": (fake_plugin,)}
    records, summary = run_scan([media], service=None, file_timeout_seconds=0.5, **fake)
    assert [r.error.type if r.error else None for r in records] == ["timeout", "timeout"]
    assert summary.worker_restarts == 2
    assert summary.exit_status(hash_only=True) == 4  # and 12 (+8) with nothing to match
    (media / "release").write_text("the fake signal type no longer sleeps")
    again, _ = run_scan([media], service=None, **fake)
    hashed = [r for r in again if r.path.endswith(".png")]
    assert [(r.error, r.cached) for r in hashed] == [(None, False), (None, False)]


def test_unknown_signal_type_bank_or_threshold_is_refused(
    image_tree: Path, run_scan: ScanRunner
) -> None:
    with pytest.raises(NotFoundError, match="no-such-type"):
        run_scan([image_tree], signal_types=("no-such-type",))
    with pytest.raises(NotFoundError, match="nope"):
        run_scan([image_tree], banks=("nope",))
    with pytest.raises(InvalidInputError, match="does not compute"):
        run_scan([image_tree], signal_types=("md5",), thresholds={"pdq": 10})
    with pytest.raises(InvalidInputError, match=r"outside 0\.\.256"):
        run_scan([image_tree], thresholds={"pdq": 300})


def test_default_signal_types_are_the_built_ins() -> None:
    # url hashes no content: scans never load URL entries
    assert set(builtin_signal_types()) == {"md5", "sha1", "sha256", "pdq", "vpdq"}


def test_own_outputs_and_cache_under_a_scanned_folder_are_left_out(
    image_tree: Path, run_scan: ScanRunner, scan_config: ScanConfig
) -> None:
    out = image_tree / "results.jsonl"
    cache = image_tree / "sub" / "scan-cache.sqlite"
    records, summary = run_scan([image_tree], output_paths=(out,), cache_path=cache)
    assert cache.is_file()
    out.write_text("".join(r.to_json() + "\n" for r in records))
    again, summary = run_scan([image_tree], output_paths=(out,), cache_path=cache)
    assert _names(again, image_tree) == ["a.png", "b.jpg", "sub/c.png", "sub/deeper/d.jpg"]
    assert all(r.cached for r in again)
    assert summary.own_files == 2  # results.jsonl and the cache file
    assert summary.error_count == 0


def test_an_output_that_is_a_file_to_scan_is_refused_before_hashing(
    image_tree: Path, scan_config: ScanConfig
) -> None:
    photo = image_tree / "sub" / "c.png"
    before = photo.read_bytes()
    seen: list[int] = []
    config = replace(scan_config, output_paths=(photo,))
    with pytest.raises(InvalidInputError, match=r"refusing to write .*c\.png"):
        scan([image_tree], config=config, banks=None, on_record=print, on_total=seen.append)
    assert seen == []  # refused before the caller opens its output
    assert photo.read_bytes() == before


def test_an_empty_path_is_refused_not_read_as_the_working_folder(
    image_tree: Path, run_scan: ScanRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(image_tree)
    with pytest.raises(InvalidInputError, match="empty path"):
        run_scan([""])


def test_a_named_disabled_bank_is_refused_with_the_way_out(
    image_tree: Path, run_scan: ScanRunner, banks: BankService
) -> None:
    banks.create_bank("known", source="test")
    banks.update_bank("known", enabled=False)
    with pytest.raises(ConflictError, match="bank 'known' is disabled") as info:
        run_scan([image_tree], banks=("known",))
    assert "safehold bank enable known" in info.value.message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("workers", 10_000, "workers must be between 1 and"),
        ("memory_limit_bytes", 512 * 2**20, "at least 1024 MiB"),
    ],
)
def test_config_bounds(settings: Settings, field: str, value: int, message: str) -> None:
    overrides: dict[str, Any] = {field: value}
    with pytest.raises(InvalidInputError, match=message):
        ScanConfig.from_settings(settings, **overrides)


@pytest.mark.parametrize(("preshrink", "ok"), [(0, True), (1, False), (63, False), (64, True)])
def test_preshrink_is_off_or_at_least_64(settings: Settings, preshrink: int, ok: bool) -> None:
    if ok:
        assert ScanConfig.from_settings(settings, preshrink=preshrink).hash_options.preshrink == (
            preshrink
        )
    else:
        with pytest.raises(InvalidInputError, match="0 \\(off\\) or at least 64"):
            ScanConfig.from_settings(settings, preshrink=preshrink)


def test_never_more_workers_than_files_to_hash(image_tree: Path, scan_config: ScanConfig) -> None:
    config = replace(scan_config, workers=max_workers())
    cached = [image_tree / "a.png", image_tree / "sub"]
    scan(cached, config=config, banks=None, on_record=lambda r: None)
    running: list[int] = []
    records: list[ScanRecord] = []

    def record(r: ScanRecord) -> None:
        records.append(r)
        running.append(len(multiprocessing.active_children()))

    scan([image_tree], config=config, banks=None, on_record=record)
    # Only b.jpg needs hashing: one worker, however many are allowed.
    assert [r.cached for r in records] == [True, False, True, True]
    assert max(running) == 1


def test_interrupt_commits_the_cache_even_if_ctrl_c_comes_again(
    image_tree: Path, scan_config: ScanConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first Ctrl-C stops the scan after three records; a second one lands just as the
    # cache is about to commit (``timeout -s INT`` signals the process, then its group).
    original_close = ScanCache.close

    def close_under_fire(self: ScanCache) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        original_close(self)

    monkeypatch.setattr(ScanCache, "close", close_under_fire)
    config = replace(scan_config, cache_commit_every=1000)
    seen: list[ScanRecord] = []

    def interrupt_after_three(record: ScanRecord) -> None:
        seen.append(record)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan([image_tree], config=config, banks=None, on_record=interrupt_after_three)
    assert config.cache_path is not None
    with sqlite3.connect(config.cache_path) as db:
        rows = db.execute("SELECT count(*) FROM files").fetchone()[0]
    assert rows >= len(seen) == 3
