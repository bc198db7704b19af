"""Fixtures for signal tests: the reference media, their expected values, cached video hashes.

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
from PIL import Image

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
