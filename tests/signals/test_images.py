"""The PDQ preprocessing recipe: decoding, modes, orientation, pre-shrink geometry, bad input."""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from safehold.errors import ContentTooLargeError, CorruptContentError
from safehold.signals.base import Content, ContentType
from safehold.signals.content import detect_content
from safehold.signals.images import (
    DecodedImage,
    _pdq_sample_offset,
    decode_image,
    pdq_input,
    phase_aligned_resize,
    preshrink_size,
    unletterbox,
)

Blobs = Callable[..., Image.Image]


def _save(path: Path, image: Image.Image, **params: object) -> Content:
    image.save(path, **params)
    return detect_content(path)


def _decode(content: Content, preshrink: int = 512) -> DecodedImage:
    return decode_image(content, max_pixels=100_000_000, preshrink=preshrink)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data).to_bytes(4, "big")
    return len(data).to_bytes(4, "big") + kind + data + crc


@pytest.mark.parametrize(
    ("size", "preshrink", "expected"),
    [
        ((1600, 1004), 512, (512, 321)),
        ((1004, 1600), 512, (321, 512)),
        ((512, 300), 512, (512, 300)),
        ((4000, 10), 512, (512, 1)),
        ((1600, 1004), 0, (1600, 1004)),
    ],
)
def test_preshrink_size(size: tuple[int, int], preshrink: int, expected: tuple[int, int]) -> None:
    assert preshrink_size(size, preshrink) == expected


@pytest.mark.parametrize(
    ("length", "offset"),
    [
        # Worked by hand from pdq/cpp/downscaling/downscaling.cpp:
        (1600, 0.0),  # window 13 (odd, centred); samples 25k+12 -> centres 25k+12.5 = ideal
        (512, 1.5),  # window 4 (+0.5 per pass, 2 passes); samples 8k+4 -> +0.5
        (128, 0.5),  # window 1 (no blur); samples 2k+1 -> +0.5
    ],
)
def test_pdq_sample_offset(length: int, offset: float) -> None:
    assert _pdq_sample_offset(length) == pytest.approx(offset)


def test_phase_aligned_resize_size_and_mode(blobs: Blobs) -> None:
    image = DecodedImage(blobs(size=(800, 502)), (1600, 1004))
    out = phase_aligned_resize(image, (512, 321))
    assert (out.size, out.mode) == ((512, 321), "RGB")


def test_small_photos_are_hashed_at_full_size(tmp_path: Path, blobs: Blobs) -> None:
    content = _save(tmp_path / "a.png", blobs(size=(512, 300)))
    decoded = _decode(content)
    assert decoded.full_size == (512, 300)
    pixels = pdq_input(decoded, 512)
    assert np.array_equal(pixels, np.asarray(Image.open(content.path).convert("RGB")))


def test_jpeg_draft_decodes_at_reduced_scale(tmp_path: Path, blobs: Blobs) -> None:
    content = _save(tmp_path / "a.jpg", blobs(size=(1600, 1000)), quality=95)
    decoded = _decode(content)
    assert decoded.full_size == (1600, 1000)
    assert decoded.rgb.size == (800, 500)  # 1/2 scale: the smallest not below 512 px
    assert pdq_input(decoded, 512).shape == (320, 512, 3)
    assert _decode(content, preshrink=0).rgb.size == (1600, 1000)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(
    tmp_path: Path, blobs: Blobs, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    content = _save(tmp_path / "a.png", blobs(size=(64, 40)), exif=exif)
    expected = ImageOps.exif_transpose(Image.open(content.path)).convert("RGB")
    decoded = _decode(content)
    assert decoded.full_size == expected.size
    assert np.array_equal(np.asarray(decoded.rgb), np.asarray(expected))


def test_orientation_with_jpeg_draft(tmp_path: Path, blobs: Blobs) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    content = _save(tmp_path / "a.jpg", blobs(size=(1600, 1000)), exif=exif, quality=95)
    decoded = _decode(content)
    assert decoded.full_size == (1000, 1600)
    assert decoded.rgb.size == (500, 800)


def test_rgba_alpha_is_dropped_not_composited(tmp_path: Path, blobs: Blobs) -> None:
    rgb = blobs()
    alpha = Image.fromarray(np.random.default_rng(3).integers(0, 256, (192, 256), np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    decoded = _decode(_save(tmp_path / "a.png", rgba))
    assert np.array_equal(np.asarray(decoded.rgb), np.asarray(rgb))


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "PNG"), ("LA", "PNG"), ("P", "GIF"), ("1", "BMP"), ("CMYK", "JPEG"), ("I;16", "PNG")],
)
def test_modes_convert_to_rgb_like_pillow(
    tmp_path: Path, blobs: Blobs, mode: str, fmt: str
) -> None:
    source = blobs().convert("L").convert(mode) if mode == "I;16" else blobs().convert(mode)
    content = _save(tmp_path / f"a.{fmt.lower()}", source, format=fmt)
    decoded = _decode(content)
    assert decoded.rgb.mode == "RGB"
    expected = Image.open(content.path).convert("RGB")
    assert np.array_equal(np.asarray(decoded.rgb), np.asarray(expected))


def test_palette_with_transparency(tmp_path: Path, blobs: Blobs) -> None:
    image = blobs().convert("P")
    image.info["transparency"] = 0
    content = _save(tmp_path / "a.png", image)
    assert Image.open(content.path).info.get("transparency") == 0
    decoded = _decode(content)
    expected = Image.open(content.path).convert("RGB")  # palette colours, alpha ignored
    assert np.array_equal(np.asarray(decoded.rgb), np.asarray(expected))


def test_animated_gif_uses_the_first_frame(tmp_path: Path, blobs: Blobs) -> None:
    first, second = blobs(seed=1).convert("P"), blobs(seed=2).convert("P")
    content = _save(tmp_path / "anim.gif", first, save_all=True, append_images=[second])
    assert getattr(Image.open(content.path), "n_frames", 1) == 2
    alone = _save(tmp_path / "first.gif", first)
    assert np.array_equal(np.asarray(_decode(content).rgb), np.asarray(_decode(alone).rgb))


def test_truncated_jpeg_is_corrupt(tmp_path: Path, blobs: Blobs) -> None:
    whole = tmp_path / "whole.jpg"
    blobs(size=(640, 480)).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CorruptContentError, match="truncated"):
        _decode(detect_content(cut))


def test_truncation_is_an_error_even_if_pillow_was_told_to_allow_it(
    tmp_path: Path, blobs: Blobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.jpg"
    blobs(size=(640, 480)).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:3000])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(CorruptContentError, match="truncated"):
        _decode(detect_content(cut))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for the rest of the process


def test_png_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    ihdr = (100_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])  # 100000 x 100000 RGB
    idat = zlib.compress(b"\0" * 64)
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    start = time.perf_counter()
    with pytest.raises(ContentTooLargeError) as caught:
        _decode(detect_content(path))
    assert time.perf_counter() - start < 1.0
    # Safehold's bound, not Pillow's own limit (178956970 pixels) that was reported before.
    assert caught.value.message == (
        "PNG image is 100000x100000 = 10000000000 pixels, over the bound of 100000000"
    )


def test_pillow_pixel_limit_does_not_override_ours(
    tmp_path: Path, blobs: Blobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bound above Pillow's limit is honoured; Pillow's setting is restored afterwards."""
    content = _save(tmp_path / "a.png", blobs(size=(100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow would refuse 10000 pixels
    assert decode_image(content, max_pixels=10_000, preshrink=512).full_size == (100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_pixel_bound_is_configurable(tmp_path: Path, blobs: Blobs) -> None:
    content = _save(tmp_path / "a.png", blobs(size=(100, 100)))
    with pytest.raises(ContentTooLargeError, match="over the bound of 9999"):
        decode_image(content, max_pixels=9999, preshrink=512)
    assert decode_image(content, max_pixels=10_000, preshrink=512).full_size == (100, 100)


def test_wrong_format_claim_is_corrupt(tmp_path: Path, blobs: Blobs) -> None:
    path = tmp_path / "a.png"
    blobs().save(path)
    lying = Content(path, ContentType.PHOTO, path.stat().st_size, format_name="JPEG")
    with pytest.raises(CorruptContentError, match="not a decodable JPEG image"):
        _decode(lying)


def test_in_memory_bytes_are_decoded(tmp_path: Path, blobs: Blobs) -> None:
    buffer = io.BytesIO()
    blobs().save(buffer, format="PNG")
    content = Content(tmp_path / "never-written", ContentType.PHOTO, 1, buffer.getvalue(), "PNG")
    assert _decode(content).full_size == (256, 192)


def test_unletterbox_crops_dark_bars(blobs: Blobs) -> None:
    inner = np.asarray(blobs(size=(200, 100))).copy()
    inner[inner <= 40] = 41  # keep the picture itself clearly above the bar limit
    framed = np.zeros((140, 220, 3), np.uint8)
    framed[:, :, :] = 12  # dark grey bars (JPEG-ish noise level), below the limit of 24
    framed[25:125, 10:210] = inner
    cropped = unletterbox(DecodedImage(Image.fromarray(framed), (440, 280)))
    assert cropped is not None
    assert np.array_equal(np.asarray(cropped.rgb), inner)
    assert cropped.full_size == (400, 200)  # scaled back to full resolution


def test_unletterbox_without_bars_or_all_dark(blobs: Blobs) -> None:
    bright = np.asarray(blobs()).copy()
    bright[bright <= 40] = 41
    assert unletterbox(DecodedImage(Image.fromarray(bright), (256, 192))) is None
    dark = Image.new("RGB", (50, 50), (5, 5, 5))
    assert unletterbox(DecodedImage(dark, (50, 50))) is None
