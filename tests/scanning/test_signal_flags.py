"""Signal-level flags reach scan records: quality-gated variants and partial decodes.

A 16-bit copy of a banked 8-bit photo has PDQ quality 0 under the reference recipe but a
depth-normalised variant that matches; a truncated video keeps the signal of its decodable
part and reports a ``corrupt`` error. Both must survive a cached re-run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.scanning import ScanRecord, ScanSummary
from safehold.signals.base import Content, ContentType
from safehold.signals.pdq import PdqSignalType

ScanRunner = Callable[..., tuple[list[ScanRecord], ScanSummary]]


def _bank_own_pdq(banks: BankService, path: Path) -> None:
    signal = PdqSignalType().hash_content(Content(path, ContentType.PHOTO, path.stat().st_size))
    assert signal.quality is not None
    assert signal.quality >= 50
    banks.create_bank("known")
    banks.add_entries("known", [NewEntry("pdq", signal.value, signal.quality)])


def test_sixteen_bit_copy_matches_its_eight_bit_original_also_when_cached(
    tmp_path: Path, run_scan: ScanRunner, banks: BankService
) -> None:
    from skimage import data

    grey = data.camera()  # benign photo shipped in the scikit-image wheel
    original = tmp_path / "camera-8bit.png"
    Image.fromarray(grey).save(original)
    _bank_own_pdq(banks, original)
    deep = tmp_path / "scan" / "camera-16bit.png"
    deep.parent.mkdir()
    Image.fromarray(grey.astype(np.uint16) * 257).save(deep)

    for cached in (False, True):
        (record,) = run_scan([deep], signal_types=("pdq",))[0]
        assert record.cached is cached
        assert record.signals["pdq"].quality == 0  # reference recipe clips 16-bit values
        assert [(m.bank, m.variant, m.distance) for m in record.matches] == [
            ("known", "depth-normalised", 0)
        ]


def test_truncated_video_gives_signal_and_corrupt_error_also_when_cached(
    shared_data: Path, tmp_path: Path, run_scan: ScanRunner
) -> None:
    source = shared_data / "reference" / "videos" / "chair-20-sd-bar.mp4"
    truncated = tmp_path / "scan" / "chair-first-half.mp4"
    truncated.parent.mkdir()
    data = source.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])

    for cached in (False, True):
        (record,) = run_scan([truncated], signal_types=("vpdq",))[0]
        assert record.cached is cached
        assert record.error is not None
        assert record.error.type == "corrupt"
        assert "ends early" in record.error.message
        frames = record.signals["vpdq"].value.splitlines()
        assert 5 <= len(frames) < 21  # the decodable part of a 21-frame (1 fps) clip
