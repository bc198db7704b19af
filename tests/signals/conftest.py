"""Fixtures for signal tests: the reference media, their expected values, cached video hashes,
high-bit-depth copies of a scikit-image photo, and damaged copies of a reference video (written
to ``tmp_path`` only, never into the repository).

Reference values come from ``../shared/data`` (computed by the PDQ/vPDQ reference
implementations and by ``md5sum``/``sha256sum``), never from Safehold's own output. Video
hashes take ~0.7 s per clip, so they are computed once per session.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage import data as skimage_data

from safehold.signals.base import Signal
from safehold.signals.content import detect_content
from safehold.signals.vpdq import VpdqFrame, VpdqSignalType, parse_frames

#: Reference clips (``reference/videos``) without the ``.mp4``.
CHAIR_CLIPS = (
    "chair-19-sd-bar",
    "chair-20-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-large-logo-bar",
    "chair-22-with-small-logo-bar",
    "chair-orig-22-sd-bar",
)
VIDEO_CLIPS = (*CHAIR_CLIPS, "doorknob-hd-no-bar", "test-padded-dimensions")


@pytest.fixture(scope="session")
def reference(shared_data: Path) -> Path:
    """``shared/data/reference`` (paths in its CSV files are relative to it)."""
    return shared_data / "reference"


@pytest.fixture(scope="session")
def image_rows(reference: Path) -> list[dict[str, str]]:
    """Rows of ``images/expected-hashes.csv``: path, pdq, pdq_quality, md5, sha256."""
    with (reference / "images" / "expected-hashes.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def video_rows(reference: Path) -> list[dict[str, str]]:
    """Rows of ``videos/expected-file-hashes.csv``: path, md5, sha256."""
    with (reference / "videos" / "expected-file-hashes.csv").open() as f:
        return list(csv.DictReader(f))


class _ClipSignals(dict[str, Signal]):
    """Hashes a reference clip on first access (~0.7 s each), then keeps it."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.hasher = VpdqSignalType()

    def __missing__(self, name: str) -> Signal:
        if name not in VIDEO_CLIPS:
            raise KeyError(name)
        signal = self.hasher.hash_content(detect_content(self.folder / f"{name}.mp4"))
        self[name] = signal
        return signal


@pytest.fixture(scope="session")
def video_signals(reference: Path) -> dict[str, Signal]:
    """vPDQ signals (default options: 1 frame per second) of the reference clips, by name
    (``VIDEO_CLIPS``); each clip is hashed once per session, when a test first asks for it."""
    return _ClipSignals(reference / "videos")


@pytest.fixture(scope="session")
def reference_vpdq(reference: Path) -> Callable[[str], list[VpdqFrame]]:
    """``reference_vpdq(name)``: the vPDQ reference's frames (every frame) of a clip."""

    def load(name: str) -> list[VpdqFrame]:
        text = (reference / "videos" / "vpdq-hashes" / f"{name}.txt").read_text()
        return parse_frames(text)

    return load


@pytest.fixture
def blobs() -> Callable[..., Image.Image]:
    """``blobs(seed=0, size=(256, 192))``: smooth random colour blobs, an RGB image with
    plenty of gradient (PDQ quality 100) and no symmetry."""

    def make(seed: int = 0, size: tuple[int, int] = (256, 192)) -> Image.Image:
        rng = np.random.default_rng(seed)
        coarse = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
        return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)

    return make


@pytest.fixture
def make_video(blobs: Callable[..., Image.Image]) -> Callable[..., Path]:
    """``make_video(path, n_frames, fps=10, size=(64, 48), codec="ffv1", fmt="matroska")``:
    write a clip whose frame ``i`` is ``blobs(seed=i // hold)`` (``hold`` consecutive frames
    per picture, default 1); ``fps`` may be a ``Fraction``."""

    def make(
        path: Path,
        n_frames: int,
        fps: int | Fraction = 10,
        size: tuple[int, int] = (64, 48),
        codec: str = "ffv1",
        fmt: str = "matroska",
        hold: int = 1,
    ) -> Path:
        with av.open(str(path), mode="w", format=fmt) as out:
            stream = out.add_stream(codec, rate=fps)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p" if codec in ("mpeg4", "libx264") else "rgb24"
            if codec == "ffv1":
                stream.pix_fmt = "bgr0"
            out.start_encoding()  # write the header even when no frame follows
            for i in range(n_frames):
                pixels = np.asarray(blobs(seed=i // hold, size=size))
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path

    return make


@pytest.fixture
def camera_depths(tmp_path: Path) -> dict[str, Path]:
    """scikit-image's ``camera()`` (512x512 grey, 8-bit) saved at several bit depths.

    Keys: ``png8`` (the 8-bit original), ``png16`` (16-bit PNG, values x 257, Pillow mode
    ``I;16``), ``tiff16`` / ``tiff16be`` (16-bit TIFF, little/big endian), ``tiff_float``
    (32-bit float TIFF, values / 255 in 0.0-1.0, mode ``F``), ``tiff_int32`` (32-bit integer
    TIFF, ``v * 1000 - 5000``, mode ``I``), ``tiff16_rgb`` (16-bit RGB TIFF, which Pillow
    itself reduces to 8-bit ``RGB``).
    """
    camera = skimage_data.camera()
    wide = camera.astype(np.uint16) * 257
    paths = {
        name: tmp_path / file
        for name, file in [
            ("png8", "camera8.png"),
            ("png16", "camera16.png"),
            ("tiff16", "camera16.tif"),
            ("tiff16be", "camera16be.tif"),
            ("tiff_float", "camera-float.tif"),
            ("tiff_int32", "camera-int32.tif"),
            ("tiff16_rgb", "camera16-rgb.tif"),
        ]
    }
    Image.fromarray(camera).save(paths["png8"])
    Image.fromarray(wide).save(paths["png16"])
    tifffile.imwrite(paths["tiff16"], wide)
    tifffile.imwrite(paths["tiff16be"], wide.astype(">u2"))
    tifffile.imwrite(paths["tiff_float"], camera.astype(np.float32) / 255)
    tifffile.imwrite(paths["tiff_int32"], camera.astype(np.int32) * 1000 - 5000)
    tifffile.imwrite(paths["tiff16_rgb"], np.dstack([wide] * 3), photometric="rgb")
    return paths


@pytest.fixture
def truncated_chair(reference: Path, tmp_path: Path) -> Path:
    """The first half (1175152 bytes) of ``chair-20-sd-bar.mp4`` (moov at the start, so the
    file opens and 8.6 s of its 20.5 s decode), as an interrupted copy leaves it."""
    whole = (reference / "videos" / "chair-20-sd-bar.mp4").read_bytes()
    path = tmp_path / "trunc_half.mp4"
    path.write_bytes(whole[:1175152])
    return path
