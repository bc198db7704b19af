"""The scan pipeline on the team's benign reference media (``shared/data``).

Banks hold the reference PDQ values of ``expected-hashes.csv`` (computed by the C++ reference)
and the reference vPDQ output in ``videos/vpdq-hashes``, never our own output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.scanning import ScanConfig, ScanRecord, ScanSummary, scan
from safehold.settings import Settings

ScanRunner = Callable[..., tuple[list[ScanRecord], ScanSummary]]
ORIGINAL = "images/bridge-mods/aaa-orig.jpg"


def test_every_bridge_edit_matches_the_original(
    shared_data: Path,
    run_scan: ScanRunner,
    add_reference_pdq: Callable[..., list[int]],
    expected_hashes: dict[str, dict[str, str]],
) -> None:
    (entry_id,) = add_reference_pdq("bridge", [ORIGINAL])
    folder = shared_data / "reference" / "images" / "bridge-mods"
    records, summary = run_scan([folder], signal_types=("pdq",))
    edits = [r for r in records if not r.path.endswith("aaa-orig.jpg")]
    assert len(edits) == 11
    for record in records:
        (match,) = record.matches
        assert (match.bank, match.entry_id, match.category) == ("bridge", entry_id, "local:test")
        assert match.distance <= 31, record.path
    assert summary.exit_status() == 1
    # The bank's hash value never appears in the output (edits have other hashes).
    bank_value = expected_hashes[ORIGINAL]["pdq"]
    assert not any(bank_value in r.to_json() for r in edits)


def test_rotations_match_only_with_dihedral(
    shared_data: Path, run_scan: ScanRunner, add_reference_pdq: Callable[..., list[int]]
) -> None:
    add_reference_pdq("bridge", ["images/reg-test-input/dih/bridge-1-original.jpg"])
    folder = shared_data / "reference" / "images" / "reg-test-input" / "dih"
    plain, _ = run_scan([folder], signal_types=("pdq",))
    assert [Path(r.path).name for r in plain if r.matches] == ["bridge-1-original.jpg"]
    rotated, summary = run_scan([folder], signal_types=("pdq",), dihedral=True)
    variants = {Path(r.path).name: r.matches[0].variant for r in rotated if r.matches}
    assert len(variants) == 8
    assert variants["bridge-1-original.jpg"] == "original"
    assert variants["bridge-3-rotate-180.jpg"] == "rotate180"
    assert summary.matched == 8


def one_frame_per_second(reference: str) -> str:
    """The first line at or after each whole second of a reference vPDQ file.

    The reference files list every frame; the scanner samples one frame per second
    (``vpdq_seconds_per_frame``), so the bank keeps the reference's frames at that rate.
    """
    kept: list[str] = []
    next_second = 0.0
    for line in reference.strip().splitlines():
        timestamp = float(line.split(",")[3])
        if timestamp + 1e-6 >= next_second:
            kept.append(line)
            next_second = int(timestamp + 1e-6) + 1.0
    return "\n".join(kept)


@pytest.fixture
def negatives_bank(
    banks: BankService, add_reference_pdq: Callable[..., list[int]], shared_data: Path
) -> BankService:
    """Bridge PDQ plus the chair video's reference vPDQ: what the negatives must not match."""
    add_reference_pdq("known", [ORIGINAL])
    hashes = shared_data / "reference" / "videos" / "vpdq-hashes" / "chair-orig-22-sd-bar.txt"
    value = one_frame_per_second(hashes.read_text())
    banks.add_entries("known", [NewEntry("vpdq", value, category=Category("local", "test"))])
    return banks


def test_unrelated_images_and_video_match_nothing(
    shared_data: Path, run_scan: ScanRunner, negatives_bank: BankService
) -> None:
    images = shared_data / "reference" / "images" / "reg-test-input"
    paths = [
        images / "labelme-subset",
        images / "pen-and-coaster.png",
        shared_data / "reference" / "videos" / "doorknob-hd-no-bar.mp4",
    ]
    records, summary = run_scan(paths, signal_types=("pdq", "vpdq"))
    assert len(records) == 9
    assert all(r.error is None for r in records)
    assert [r.matches for r in records] == [[]] * 9
    video = records[-1]
    assert (video.content_type, list(video.signals)) == ("video", ["vpdq"])
    assert summary.bank_entries == 2
    assert summary.exit_status() == 0


def test_grey_chair_copy_matches_the_reference_vpdq(
    shared_data: Path, run_scan: ScanRunner, negatives_bank: BankService
) -> None:
    video = shared_data / "reference" / "videos" / "chair-22-sd-grey-bar.mp4"
    (record,) = run_scan([video], signal_types=("vpdq",))[0]
    (match,) = record.matches
    assert (match.bank, match.signal_type, match.variant) == ("known", "vpdq", None)
    assert match.distance <= 31


def test_low_quality_photo_never_matches_even_its_own_hash(
    shared_data: Path,
    run_scan: ScanRunner,
    banks: BankService,
    expected_hashes: dict[str, dict[str, str]],
) -> None:
    row = expected_hashes["images/tx-resources/I16.png"]
    assert int(row["pdq_quality"]) < 50
    banks.create_bank("own")
    banks.add_entries("own", [NewEntry("pdq", row["pdq"])])
    path = shared_data / "reference" / "images" / "tx-resources" / "I16.png"
    (record,) = run_scan([path], signal_types=("pdq",))[0]
    assert record.error is None
    quality = record.signals["pdq"].quality
    assert quality is not None
    assert quality < 50
    assert record.matches == []


def test_pngsuite_corrupt_files_get_one_error_each(shared_data: Path, run_scan: ScanRunner) -> None:
    folder = shared_data / "pngsuite" / "png"
    records, summary = run_scan([folder], service=None)
    assert len(records) == len(list(folder.iterdir()))
    corrupt = [r for r in records if Path(r.path).name.startswith("x")]
    valid = [r for r in records if not Path(r.path).name.startswith("x")]
    assert len(corrupt) == 14
    for record in corrupt:
        assert record.error is not None, record.path
        assert record.error.type in {"corrupt", "unsupported", "too_large"}
        assert "pdq" not in record.signals
    for record in valid:
        assert record.error is None, (record.path, record.error)
        assert len(record.signals["pdq"].value) == 64
    assert summary.error_count == 14
    lines = [json.loads(r.to_json()) for r in records]
    assert sum(1 for line in lines if line["error"] is not None) == 14


def test_quality_floor_follows_the_settings(
    shared_data: Path,
    banks: BankService,
    settings: Settings,
    expected_hashes: dict[str, dict[str, str]],
) -> None:
    """With ``SAFEHOLD_PDQ_MIN_QUALITY=30`` the quality-36 photo matches its own hash."""
    row = expected_hashes["images/tx-resources/I16.png"]
    banks.create_bank("own")
    banks.add_entries("own", [NewEntry("pdq", row["pdq"])])
    lenient = ScanConfig.from_settings(
        settings.model_copy(update={"pdq_min_quality": 30}), workers=1, signal_types=("pdq",)
    )
    records: list[ScanRecord] = []
    path = shared_data / "reference" / "images" / "tx-resources" / "I16.png"
    scan([path], config=lenient, banks=banks, on_record=records.append)
    (record,) = records
    assert [m.bank for m in record.matches] == ["own"]
    assert record.matches[0].distance <= 31
