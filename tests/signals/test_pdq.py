"""pdq: conformance with the C++ reference values, variants, quality gate, index, bad input."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from safehold.errors import (
    ContentError,
    CorruptContentError,
    InvalidSignalError,
    UnsupportedContentError,
)
from safehold.signals import get_signal_type
from safehold.signals.base import HashOptions, Signal
from safehold.signals.content import detect_content
from safehold.signals.pdq import DIHEDRAL_NAMES, PdqSignalType, vector_to_hex

THRESHOLD = 31


def _pdq(path: Path, **options: object) -> Signal:
    return PdqSignalType(HashOptions(**options)).hash_content(detect_content(path))  # type: ignore[arg-type]


def _longest_side(path: Path) -> int:
    with Image.open(path) as im:
        return max(im.size)


def test_registered_with_reference_constants() -> None:
    cls = get_signal_type("pdq")
    assert cls is PdqSignalType
    assert (cls.default_threshold, cls.max_distance, cls.default_min_quality) == (31, 256, 50)


def test_hex_bit_order_matches_threatexchange() -> None:
    # python-threatexchange writes bit 0 of the vector as the most significant hex digit bit.
    vector = np.zeros(256, dtype=np.uint8)
    vector[0] = 1
    vector[255] = 1
    assert vector_to_hex(vector) == "80" + "0" * 60 + "01"


def test_conformance_with_default_preshrink(
    reference: Path, image_rows: list[dict[str, str]]
) -> None:
    """Rule (decision 0002): quality >= 80 within 10 bits; photos <= 512 px bit-exact."""
    for row in image_rows:
        path = reference / row["path"]
        signal = _pdq(path)
        distance = PdqSignalType.distance(signal.value, row["pdq"])
        assert signal.quality == int(row["pdq_quality"]), row["path"]
        if _longest_side(path) <= 512:
            assert distance == 0, row["path"]
        elif int(row["pdq_quality"]) >= 80:
            assert distance <= 10, (row["path"], distance)


def test_conformance_without_preshrink_is_exact(
    reference: Path, image_rows: list[dict[str, str]]
) -> None:
    for row in image_rows:
        signal = _pdq(reference / row["path"], preshrink=0)
        assert (signal.value, signal.quality) == (row["pdq"], int(row["pdq_quality"])), row["path"]


def test_bridge_edits_match_and_unrelated_images_do_not(reference: Path) -> None:
    images = reference / "images"
    original = _pdq(images / "bridge-mods/aaa-orig.jpg")
    index = PdqSignalType.build_index([(1, original.value)])
    for edit in sorted((images / "bridge-mods").glob("*.jpg")):
        assert [h.entry_id for h in index.query(_pdq(edit), THRESHOLD)] == [1], edit.name
    negatives = [*sorted((images / "reg-test-input/labelme-subset").glob("*.jpg"))]
    negatives.append(images / "reg-test-input/pen-and-coaster.png")
    for other in negatives:
        signal = _pdq(other)
        assert PdqSignalType.distance(signal.value, original.value) > THRESHOLD, other.name
        assert index.query(signal, THRESHOLD) == []


def test_dihedral_variants_match_rotations_and_flips(reference: Path) -> None:
    folder = reference / "images/reg-test-input/dih"
    original = _pdq(folder / "bridge-1-original.jpg")
    index = PdqSignalType.build_index([(7, original.value)])
    others = sorted(folder.glob("bridge-[2-8]-*.jpg"))
    assert len(others) == 7
    for path in others:
        plain = _pdq(path)
        assert PdqSignalType.distance(plain.value, original.value) > THRESHOLD, path.name
        assert index.query(plain, THRESHOLD) == []
        rotated = _pdq(path, dihedral=True)
        assert rotated.variant_names == DIHEDRAL_NAMES
        hits = index.query(rotated, THRESHOLD)
        assert [h.entry_id for h in hits] == [7], path.name
        assert hits[0].variant in DIHEDRAL_NAMES


def test_dihedral_variant_names(reference: Path) -> None:
    """bridge-2 is the original turned 90 degrees clockwise; turning it 270 restores it."""
    folder = reference / "images/reg-test-input/dih"
    index = PdqSignalType.build_index([(1, _pdq(folder / "bridge-1-original.jpg").value)])
    query = _pdq(folder / "bridge-2-rotate-90.jpg", dihedral=True)
    assert index.query(query, THRESHOLD)[0].variant == "rotate270"
    flipped = _pdq(folder / "bridge-5-flipx.jpg", dihedral=True)
    assert index.query(flipped, THRESHOLD)[0].variant == "flipx"


def test_unletterbox_variant(reference: Path) -> None:
    resources = reference / "images/tx-resources"
    index = PdqSignalType.build_index([(3, _pdq(resources / "sample-b.jpg").value)])
    boxed = resources / "letterboxed_sample-b.jpg"
    plain = _pdq(boxed)
    assert plain.variants == ()
    assert index.query(plain, THRESHOLD) == []  # 144 bits apart with the bars
    unboxed = _pdq(boxed, unletterbox=True)
    assert unboxed.variant_names == ("unletterboxed",)
    hits = index.query(unboxed, THRESHOLD)
    assert [(h.entry_id, h.variant) for h in hits] == [(3, "unletterboxed")]
    assert hits[0].distance <= 10  # measured: 8 with pre-shrink, 2 without
    both = _pdq(boxed, unletterbox=True, dihedral=True)
    assert both.variant_names == (*DIHEDRAL_NAMES, "unletterboxed")
    assert index.query(both, THRESHOLD)[0].variant == "unletterboxed"


def test_low_quality_is_flagged_and_never_matched(reference: Path) -> None:
    signal = _pdq(reference / "images/tx-resources/I16.png")
    assert signal.quality == 36  # expected-hashes.csv
    assert not PdqSignalType.is_matchable(signal)
    assert PdqSignalType.is_matchable(signal, min_quality=30)
    own = PdqSignalType.build_index([(1, signal.value)])
    # Only the depth-normalised variant (16-bit noise, a different picture) is searched: far off.
    assert [name for name, _ in PdqSignalType.matchable_queries(signal)] == ["depth-normalised"]
    assert own.query(signal, THRESHOLD) == []
    assert own.query(Signal("pdq", signal.value, signal.quality), 256) == []
    permissive = PdqSignalType.build_index([(1, signal.value)], min_quality=0)
    assert [(h.entry_id, h.variant) for h in permissive.query(signal, 0)] == [(1, None)]


def test_index_one_hit_per_entry_smallest_distance() -> None:
    a = "f" * 64
    b = "f" * 63 + "0"  # 4 bits from a
    c = "0" * 64
    index = PdqSignalType.build_index([(1, a), (2, b), (3, c), (4, a)])
    assert len(index) == 4
    query = Signal("pdq", b, 100, variants=(a, c), variant_names=("rotate90", "flipx"))
    hits = index.query(query, 0)
    assert [(h.entry_id, h.distance, h.variant) for h in hits] == [
        (1, 0, "rotate90"),
        (2, 0, None),
        (3, 0, "flipx"),
        (4, 0, "rotate90"),
    ]
    near = index.query(Signal("pdq", b, 100), 4)
    assert [(h.entry_id, h.distance) for h in near] == [(2, 0), (1, 4), (4, 4)]
    assert index.query(Signal("pdq", b), 4) == near  # no quality: matchable


def test_index_against_brute_force_on_needles(reference: Path) -> None:
    folder = reference / "images/reg-test-input"
    haystack = (folder / "haystack.txt").read_text().split()
    needles = (folder / "needles.txt").read_text().split()
    index = PdqSignalType.build_index(list(enumerate(haystack)))
    for needle in needles:
        expected = sorted(
            (bin(int(needle, 16) ^ int(h, 16)).count("1"), i)
            for i, h in enumerate(haystack)
            if bin(int(needle, 16) ^ int(h, 16)).count("1") <= THRESHOLD
        )
        found = [(h.distance, h.entry_id) for h in index.query(Signal("pdq", needle), THRESHOLD)]
        assert found == expected


def test_empty_index_and_bad_query() -> None:
    empty = PdqSignalType.build_index([])
    assert len(empty) == 0
    assert empty.query(Signal("pdq", "0" * 64, 100), 31) == []
    with pytest.raises(InvalidSignalError):
        PdqSignalType.build_index([(1, "0" * 64)]).query(Signal("pdq", "xyz", 100), 31)


def test_validate_and_distance() -> None:
    value = "F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22"
    assert PdqSignalType.validate_signal(f"  {value}\n") == value.lower()
    for bad in ["", value[:-1], value + "0"]:
        with pytest.raises(InvalidSignalError, match="64 hexadecimal digits"):
            PdqSignalType.validate_signal(bad)
    # The user test's cases: each was told "64 hexadecimal digits (got 64 characters)".
    for bad in ["z" + value[1:], value[:-2] + "\u0662\u0662", "0x" + value[:-2], value[:-1] + "\0"]:
        with pytest.raises(InvalidSignalError) as info:
            PdqSignalType.validate_signal(bad)
        assert info.value.message.startswith(
            "a pdq hash contains characters that are not hexadecimal digits (0-9, a-f)"
        )
    assert PdqSignalType.distance("0" * 64, "f" * 64) == 256
    assert PdqSignalType.distance("0" * 64, "0" * 63 + "7") == 3


def _pngsuite(shared_data: Path, corrupt: bool) -> list[Path]:
    return sorted(
        p
        for p in (shared_data / "pngsuite" / "png").glob("*.png")
        if p.name.startswith("x") == corrupt
    )


def test_pngsuite_every_valid_file_hashes(shared_data: Path) -> None:
    files = _pngsuite(shared_data, corrupt=False)
    assert len(files) == 161
    hasher = PdqSignalType()
    for path in files:
        signal = hasher.hash_content(detect_content(path))
        assert len(signal.value) == 64, path.name
        assert signal.quality is not None, path.name


@pytest.mark.parametrize(
    "name",
    [
        "xc1n0g08.png",
        "xc9n2c08.png",
        "xcrn0g04.png",
        "xcsn0g01.png",
        "xd0n2c08.png",
        "xd3n2c08.png",
        "xd9n2c08.png",
        "xdtn0g01.png",
        "xhdn0g08.png",
        "xlfn0g04.png",
        "xs1n0g01.png",
        "xs2n0g01.png",
        "xs4n0g01.png",
        "xs7n0g01.png",
    ],
)
def test_pngsuite_corrupt_file_is_a_clear_error(shared_data: Path, name: str) -> None:
    path = shared_data / "pngsuite" / "png" / name
    with pytest.raises(ContentError) as caught:
        PdqSignalType().hash_content(detect_content(path))
    assert type(caught.value) is not ContentError  # a specific subclass
    assert "PNG" in caught.value.message or "format" in caught.value.message


def test_pngsuite_corrupt_list_is_complete(shared_data: Path) -> None:
    assert len(_pngsuite(shared_data, corrupt=True)) == 14


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP", "GIF"])
def test_other_lossless_formats_hash_like_png(
    tmp_path: Path, blobs: Callable[..., Image.Image], fmt: str
) -> None:
    image = blobs().convert("P") if fmt == "GIF" else blobs()  # GIF: same palette both sides
    png = tmp_path / "a.png"
    image.save(png)
    other = tmp_path / f"a.{fmt.lower()}"
    image.save(other, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    assert _pdq(other).value == _pdq(png).value


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif(tmp_path: Path, blobs: Callable[..., Image.Image], fmt: str) -> None:
    image = blobs(size=(320, 240))
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, quality=90)
    except (KeyError, OSError, ValueError) as exc:  # pragma: no cover - build without encoder
        pytest.skip(f"no {fmt} encoder in this Pillow/pillow-heif build: {exc}")
    path = tmp_path / "photo.bin"
    path.write_bytes(buffer.getvalue())
    content = detect_content(path)
    assert content.format_name == fmt
    png = tmp_path / "a.png"
    image.save(png)
    signal = PdqSignalType().hash_content(content)
    assert PdqSignalType.distance(signal.value, _pdq(png).value) <= 16


def test_bad_inputs_raise_content_errors(tmp_path: Path, blobs: Callable[..., Image.Image]) -> None:
    junk_jpeg = tmp_path / "junk.jpg"
    junk_jpeg.write_bytes(b"\xff\xd8\xff" + np.random.default_rng(1).bytes(3000))
    with pytest.raises(CorruptContentError):
        _pdq(junk_jpeg)
    gif = tmp_path / "a.gif"
    blobs().save(gif)
    cut = tmp_path / "cut.gif"
    cut.write_bytes(gif.read_bytes()[:200])
    with pytest.raises(CorruptContentError):
        _pdq(cut)


def test_videos_are_not_pdq_content(reference: Path) -> None:
    with pytest.raises(UnsupportedContentError, match="does not hash video"):
        _pdq(reference / "videos/doorknob-hd-no-bar.mp4")


def test_index_over_a_binary_index_skips_disabled_rows() -> None:
    from safehold.index import BinaryIndex, hex_to_rows
    from safehold.signals.pdq import PdqIndex

    a, c = "f" * 64, "0" * 64
    binary = BinaryIndex.from_arrays([5, 6], hex_to_rows([a, c]), disabled=[6])
    index = PdqIndex.from_binary(binary, min_quality=50)
    assert len(index) == 1
    query = Signal("pdq", a, 100, variants=(c,), variant_names=("flipx",))
    assert [(h.entry_id, h.distance, h.variant) for h in index.query(query, 0)] == [(5, 0, None)]
    binary.enable([6])
    assert [(h.entry_id, h.variant) for h in index.query(query, 0)] == [(5, None), (6, "flipx")]
    assert index.query(Signal("pdq", a, 49), 256) == []  # below the quality floor
