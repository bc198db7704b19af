"""Fixtures for scanning tests: generated benign images, a real SQLite bank, a scan runner."""

from __future__ import annotations

import csv
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.scanning import ScanConfig, ScanRecord, ScanSummary, scan
from safehold.settings import Settings
from safehold.signals.base import SIGNAL_TYPES
from safehold.storage.engine import open_database

ScanRunner = Callable[..., tuple[list[ScanRecord], ScanSummary]]


def _blobs(seed: int, size: int) -> Image.Image:
    """Smooth random colour blobs: plenty of gradient, so PDQ quality is high."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """``make_image(path, seed=0, size=256)``: write a distinct benign image (format by suffix)."""

    def make(path: Path, seed: int = 0, size: int = 256) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        _blobs(seed, size).save(path)
        return path

    return make


@pytest.fixture
def files(tmp_path: Path, make_image: Callable[..., Path]) -> Callable[..., list[Path]]:
    """``files(*names)``: one distinct small image per name under ``tmp_path``."""

    def make(*names: str) -> list[Path]:
        return [make_image(tmp_path / name, seed=i, size=64) for i, name in enumerate(names)]

    return make


@pytest.fixture
def fake_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Module name of the fake ``test-behave`` signal type, importable by worker processes.

    Its folder is put on ``sys.path`` (which child processes inherit) whatever pytest's import
    mode. A scan imports plugin modules in this process too (to check the signal types), so
    the registry and ``sys.modules`` are restored afterwards: later tests in the same process
    must not see ``test-behave`` among the signal types.
    """
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setattr(SIGNAL_TYPES, "_items", dict(SIGNAL_TYPES._items))
    sys.modules.pop("scanning_fake_signals", None)
    yield "scanning_fake_signals"
    sys.modules.pop("scanning_fake_signals", None)  # re-imported (and registered) next time


@pytest.fixture
def image_tree(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    """``tree/``: a.png, b.jpg, sub/c.png, sub/deeper/d.jpg (four unrelated images)."""
    root = tmp_path / "tree"
    make_image(root / "a.png", seed=1)
    make_image(root / "b.jpg", seed=2)
    make_image(root / "sub" / "c.png", seed=3)
    make_image(root / "sub" / "deeper" / "d.jpg", seed=4)
    return root


@pytest.fixture
def banks(settings: Settings, sqlite_template: Path) -> BankService:
    """A BankService on a fresh, migrated SQLite database in the test's data directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template, settings.data_dir / "safehold.db")
    return BankService(open_database(settings))


@pytest.fixture
def scan_config(settings: Settings) -> ScanConfig:
    """Settings-based config with two workers and the cache in the test's data directory."""
    return ScanConfig.from_settings(settings, workers=2)


@pytest.fixture
def run_scan(banks: BankService, scan_config: ScanConfig) -> ScanRunner:
    """``run_scan(paths, service=<banks>, **overrides) -> (records, summary)``.

    ``overrides`` replace :class:`ScanConfig` fields; ``dihedral``, ``unletterbox`` and
    ``preshrink`` go into its ``hash_options``. ``service=None`` hashes without matching.
    """

    def run(
        paths: Iterable[Path], *, service: BankService | None = banks, **overrides: Any
    ) -> tuple[list[ScanRecord], ScanSummary]:
        records: list[ScanRecord] = []
        options = {
            k: overrides.pop(k) for k in ("dihedral", "unletterbox", "preshrink") if k in overrides
        }
        config = replace(scan_config, **overrides)
        config = replace(config, hash_options=replace(config.hash_options, **options))
        summary = scan(paths, config=config, banks=service, on_record=records.append)
        return records, summary

    return run


@pytest.fixture(scope="session")
def expected_hashes(shared_data: Path) -> dict[str, dict[str, str]]:
    """``images/expected-hashes.csv`` by path (reference PDQ, quality, MD5, SHA-256)."""
    with (shared_data / "reference" / "images" / "expected-hashes.csv").open() as f:
        return {row["path"]: row for row in csv.DictReader(f)}


@pytest.fixture
def add_reference_pdq(
    banks: BankService, expected_hashes: dict[str, dict[str, str]]
) -> Callable[..., list[int]]:
    """``add_reference_pdq(bank, [csv paths])``: bank the reference PDQ hashes of those files."""

    def add(bank: str, paths: list[str], **bank_options: Any) -> list[int]:
        banks.create_bank(bank, source="reference media", **bank_options)
        entries = [
            NewEntry(
                signal_type="pdq",
                value=expected_hashes[p]["pdq"],
                category=Category("local", "test"),
                source="expected-hashes.csv",
                note=p,
            )
            for p in paths
        ]
        banks.add_entries(bank, entries)
        return [e.id for e in banks.iter_entries(bank)]

    return add
