"""The benign demo set for ``safehold demo``: sample photos, edited copies, unrelated images.

Photos come from the scikit-image wheel (``skimage.data``), which ships them inside the
package: they load offline (only images bundled in the wheel are used; none of the ones that
``pooch`` would download). No people: a cup of coffee, a cat, a rocket, a clock, coins, the
moon, brickwork, a microscope slide and the Hubble deep field. Edited copies are made with
Pillow; the optional video is drawn with NumPy and encoded with PyAV.

Layout under the work directory::

    originals/       the "known" images (and video) the demo bank is built from
    scan/edited/     edits of the originals: they should match
    scan/unrelated/  other images and patterns: they should not match

Files are only rewritten when their bytes would change, so re-running the demo keeps the scan
cache warm.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from safehold.errors import ConfigurationError

#: Originals that go into the demo bank: ``skimage.data`` function name -> file stem.
KNOWN = {"coffee": "coffee", "chelsea": "cat", "rocket": "rocket"}
#: Images that are not in the bank (bundled in the wheel, no people).
UNRELATED = {
    "clock": "clock",
    "coins": "coins",
    "moon": "moon",
    "brick": "brick",
    "immunohistochemistry": "microscope-slide",
    "hubble_deep_field": "deep-field",
}


@dataclass(slots=True)
class DemoMedia:
    """Where the demo files are and what each scanned file is expected to do.

    Attributes:
        originals: files the demo bank is built from.
        scan_dir: the folder to scan.
        expected_matches: file names under ``scan_dir`` that should match.
        expected_misses: file names under ``scan_dir`` that should not match.
    """

    originals: list[Path] = field(default_factory=list)
    scan_dir: Path = Path()
    expected_matches: list[str] = field(default_factory=list)
    expected_misses: list[str] = field(default_factory=list)


def _skimage_image(name: str) -> Image.Image:
    """Load ``skimage.data.<name>()`` as an RGB Pillow image.

    Raises:
        ConfigurationError: scikit-image is not installed (``pip install 'safehold[demo]'``).
    """
    try:
        from skimage import data
    except ImportError as exc:  # pragma: no cover - the demo extra is missing
        raise ConfigurationError(
            "the demo needs scikit-image: pip install 'safehold[demo]'"
        ) from exc
    array = np.asarray(getattr(data, name)())
    if array.dtype != np.uint8:
        array = (array.astype(np.float64) * (255.0 / max(float(array.max()), 1.0))).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> Path:
    """Write ``data`` unless ``path`` already holds exactly these bytes (keeps mtime stable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (path.is_file() and path.read_bytes() == data):
        path.write_bytes(data)
    return path


def _caption(image: Image.Image, text: str) -> Image.Image:
    """Draw ``text`` near the top in white with a black outline (a typical meme caption)."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    size = max(12, out.height // 20)
    font = ImageFont.load_default(size=size)
    draw.text(
        (out.width // 20, size // 2),
        text,
        fill=(255, 255, 255),
        font=font,
        stroke_width=max(1, size // 10),
        stroke_fill=(0, 0, 0),
    )
    return out


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    """Cut ``fraction`` of the width off the right edge.

    PDQ tolerates crops poorly (it hashes the whole frame): 1 % off one edge moves the demo
    photos 12-20 bits, 2 % off every edge over 40, past the 31-bit threshold.
    """
    return image.crop((0, 0, image.width - int(image.width * fraction), image.height))


#: Edits of each original: file name suffix -> (format, edit).
EDITS: dict[str, tuple[str, Callable[[Image.Image], Image.Image]]] = {
    "resized.jpg": ("JPEG", lambda im: im.resize((im.width // 2, im.height // 2))),
    "low-quality.jpg": ("JPEG", lambda im: im),
    "blurred.png": ("PNG", lambda im: im.filter(ImageFilter.GaussianBlur(2))),
    "captioned.jpg": ("JPEG", lambda im: _caption(im, "safehold demo")),
    "rotated90.png": ("PNG", lambda im: im.transpose(Image.Transpose.ROTATE_90)),
    "cropped.jpg": ("JPEG", lambda im: _crop(im, 0.01)),
}


def _pattern(kind: str, size: int = 384) -> Image.Image:
    """A generated test pattern (seeded, so the bytes are stable)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    rng = np.random.default_rng(7)
    if kind == "rings":
        r = np.hypot(x - size / 2, y - size / 2)
        grey = 127.5 + 127.5 * np.sin(r / 6.0)
    else:  # "noise": smoothed random blobs
        grey = rng.normal(128, 60, (size // 16, size // 16)).clip(0, 255)
        grey = np.kron(grey, np.ones((16, 16)))
    rgb = np.stack([grey, grey[::-1], grey.T], axis=-1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb)


def build_demo_media(workdir: Path, *, video: bool = True) -> DemoMedia:
    """Create (or refresh) the demo set under ``workdir``; return what was made.

    Raises:
        ConfigurationError: scikit-image is missing.
        OSError: ``workdir`` cannot be written.
    """
    media = DemoMedia(scan_dir=workdir / "scan")
    for func, stem in KNOWN.items():
        image = _skimage_image(func)
        original = workdir / "originals" / f"{stem}.jpg"
        media.originals.append(_write_if_changed(original, _encode(image, "JPEG", quality=95)))
        for suffix, (fmt, edit) in EDITS.items():
            quality = 12 if suffix == "low-quality.jpg" else 90
            params = {"quality": quality} if fmt == "JPEG" else {}
            name = f"{stem}-{suffix}"
            _write_if_changed(media.scan_dir / "edited" / name, _encode(edit(image), fmt, **params))
            media.expected_matches.append(f"edited/{name}")
        copy = media.scan_dir / "edited" / f"{stem}-exact-copy.jpg"
        _write_if_changed(copy, original.read_bytes())
        media.expected_matches.append(f"edited/{copy.name}")
    for func, stem in UNRELATED.items():
        data = _encode(_skimage_image(func), "JPEG", quality=90)
        _write_if_changed(media.scan_dir / "unrelated" / f"{stem}.jpg", data)
        media.expected_misses.append(f"unrelated/{stem}.jpg")
    for kind in ("rings", "noise"):
        _write_if_changed(
            media.scan_dir / "unrelated" / f"pattern-{kind}.png", _encode(_pattern(kind), "PNG")
        )
        media.expected_misses.append(f"unrelated/pattern-{kind}.png")
    if video:
        from safehold.scanning.demo_video import write_demo_videos

        original_video, copy_video = write_demo_videos(workdir)
        media.originals.append(original_video)
        media.expected_matches.append(str(copy_video.relative_to(media.scan_dir)))
    return media
