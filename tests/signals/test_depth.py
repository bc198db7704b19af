"""16-bit and float photos: the depth-normalised PDQ variant matches their 8-bit copies.

The signal's own value stays the reference recipe's (Pillow clips 16-bit and float pixels to
0-255, as the PDQ reference tooling does): quality 0 here, and ``I16.png`` keeps the
reference value and quality 36 of ``expected-hashes.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from safehold.signals.base import HashOptions, Signal
from safehold.signals.content import detect_content
from safehold.signals.depth import depth_normalise, is_high_depth
from safehold.signals.pdq import DEPTH_NORMALISED, PdqSignalType

THRESHOLD = 31


def _pdq(path: Path, **options: object) -> Signal:
    return PdqSignalType(HashOptions(**options)).hash_content(detect_content(path))  # type: ignore[arg-type]


def _values(image: Image.Image | None) -> list[int]:
    assert image is not None
    assert image.mode == "L"
    return [int(v) for v in np.asarray(image).ravel()]


def test_modes_that_clip() -> None:
    assert all(is_high_depth(m) for m in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"))
    assert not any(is_high_depth(m) for m in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK"))
    assert depth_normalise(Image.new("RGB", (4, 4))) is None


def test_sixteen_bit_keeps_the_high_byte() -> None:
    wide = np.array([[0, 257, 32896, 65535], [255 * 257, 256, 511, 65280]], dtype=np.uint16)
    assert _values(depth_normalise(Image.fromarray(wide))) == [0, 1, 128, 255, 255, 1, 1, 255]


def test_int32_within_sixteen_bits_and_wider() -> None:
    as16 = np.array([[0, 65535]], dtype=np.int32)
    assert _values(depth_normalise(Image.fromarray(as16))) == [0, 255]
    wide = np.array([[-5000, 122500, 250000]], dtype=np.int32)  # min-max: 0, 127.5 -> 128, 255
    assert _values(depth_normalise(Image.fromarray(wide))) == [0, 128, 255]


def test_float_unit_range_and_other_ranges() -> None:
    unit = np.array([[0.0, 0.5, 1.0, 0.002]], dtype=np.float32)  # 127.5 -> 128 (half to even)
    assert _values(depth_normalise(Image.fromarray(unit))) == [0, 128, 255, 1]
    signed = np.array([[-1.0, 0.0, 1.0]], dtype=np.float32)
    assert _values(depth_normalise(Image.fromarray(signed))) == [0, 128, 255]
    holes = np.array([[np.nan, 0.25, np.inf, -np.inf, 0.75]], dtype=np.float32)
    assert _values(depth_normalise(Image.fromarray(holes))) == [64, 64, 191, 64, 191]


def test_no_variant_when_the_clip_is_exact_or_the_picture_flat() -> None:
    eight_in_sixteen = np.array([[0, 200, 255]], dtype=np.uint16)
    assert depth_normalise(Image.fromarray(eight_in_sixteen)) is None
    assert depth_normalise(Image.fromarray(np.array([[3.0, 250.0]], dtype=np.float32))) is None
    assert depth_normalise(Image.fromarray(np.full((4, 4), 40000, np.uint16))) is None
    assert depth_normalise(Image.fromarray(np.full((4, 4), 7.5, np.float32))) is None
    assert depth_normalise(Image.fromarray(np.full((2, 2), np.nan, np.float32))) is None


@pytest.mark.parametrize("name", ["png16", "tiff16", "tiff16be", "tiff_float"])
def test_high_depth_copies_match_the_eight_bit_bank_hash(
    camera_depths: dict[str, Path], name: str
) -> None:
    """Reported: quality 0, no error, no match. Now the variant matches at distance 0."""
    bank = _pdq(camera_depths["png8"])
    assert bank.quality == 100
    assert bank.variants == ()  # an 8-bit photo gets no depth-normalised variant
    signal = _pdq(camera_depths[name])
    assert signal.quality == 0  # the reference recipe's own value, unchanged (clipped)
    assert signal.variant_names == (DEPTH_NORMALISED,)
    assert signal.variant_qualities == (100,)
    assert signal.variants == (bank.value,)
    hits = PdqSignalType.build_index([(7, bank.value)]).query(signal, THRESHOLD)
    assert [(h.entry_id, h.distance, h.variant) for h in hits] == [(7, 0, DEPTH_NORMALISED)]


def test_int32_copy_matches_through_min_max(camera_depths: dict[str, Path]) -> None:
    bank = _pdq(camera_depths["png8"])
    signal = _pdq(camera_depths["tiff_int32"])
    assert signal.variant_names == (DEPTH_NORMALISED,)
    assert PdqSignalType.distance(signal.variants[0], bank.value) == 0


def test_sixteen_bit_rgb_needs_no_variant(camera_depths: dict[str, Path]) -> None:
    """Pillow decodes 16-bit RGB TIFF to 8-bit RGB (the high byte) itself."""
    signal = _pdq(camera_depths["tiff16_rgb"])
    assert signal.value == _pdq(camera_depths["png8"]).value
    assert signal.variants == ()


def test_variant_follows_exif_orientation(camera_depths: dict[str, Path], tmp_path: Path) -> None:
    rotated = tmp_path / "rotated16.tif"
    with Image.open(camera_depths["tiff16"]) as im:
        exif = im.getexif()
        exif[0x0112] = 6  # display rotated 90 degrees clockwise
        im.save(rotated, exif=exif)
    upright = tmp_path / "upright8.png"
    with Image.open(camera_depths["png8"]) as im:
        im.transpose(Image.Transpose.ROTATE_270).save(upright)
    signal = _pdq(rotated)
    assert signal.variants == (_pdq(upright).value,)


def test_dihedral_and_quality_floor(camera_depths: dict[str, Path]) -> None:
    both = _pdq(camera_depths["png16"], dihedral=True)
    assert both.variant_names[-1] == DEPTH_NORMALISED  # after the 7 rotations/flips
    assert both.variant_qualities == (0,) * 7 + (100,)
    assert [n for n, _ in PdqSignalType.matchable_queries(both)] == [DEPTH_NORMALISED]
    assert _pdq(camera_depths["png16"], min_variant_quality=101).variants == ()


def test_i16_keeps_its_reference_value_and_never_matches_its_own_hash(
    reference: Path, image_rows: list[dict[str, str]]
) -> None:
    row = next(r for r in image_rows if r["path"].endswith("tx-resources/I16.png"))
    signal = _pdq(reference / row["path"])
    assert (signal.value, signal.quality) == (row["pdq"], int(row["pdq_quality"]))  # quality 36
    # Its 16-bit values are noise over the full range: the variant is a different picture.
    assert signal.variant_names == (DEPTH_NORMALISED,)
    assert signal.variant_qualities == (100,)
    assert PdqSignalType.distance(signal.variants[0], row["pdq"]) > 100
    index = PdqSignalType.build_index([(1, row["pdq"])])
    assert index.query(signal, THRESHOLD) == []
