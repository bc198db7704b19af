"""A short synthetic video for the demo (moving shapes over a texture) and a re-encoded copy.

Drawn with NumPy and encoded with PyAV (whose wheel carries FFmpeg), so nothing is downloaded.
The original goes into the demo bank; the copy (smaller, another codec, lower bit rate) is
scanned and should match by vPDQ: it is decoded from the original and re-encoded. Files are made
once: encoders need not be bit-for-bit deterministic, and rewriting would needlessly invalidate
the scan cache.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from av.video.stream import VideoStream

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 6


def _frame(t: float, texture: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """One RGB frame at time ``t`` seconds: a slowly panning texture with two moving shapes."""
    shift = int(t * 12)
    frame = np.roll(texture, shift, axis=1).copy()
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    cx, cy = WIDTH * (0.2 + 0.6 * (t / SECONDS)), HEIGHT * (0.5 + 0.3 * np.sin(t * 1.3))
    disc = (x - cx) ** 2 + (y - cy) ** 2 < 35**2
    frame[disc] = (230.0, 60.0, 40.0)
    sx, sy = int(WIDTH * (0.8 - 0.5 * t / SECONDS)), int(HEIGHT * 0.25)
    frame[sy : sy + 50, max(0, sx - 25) : sx + 25] = (40.0, 90.0, 220.0)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _texture() -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(11)
    coarse = rng.uniform(40, 215, (HEIGHT // 16, WIDTH // 16, 3))
    texture = np.kron(coarse, np.ones((16, 16, 1)))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    stripes = 30.0 * np.sin(x / 9.0 + y / 13.0)
    return np.asarray(texture + stripes[..., None], dtype=np.float64)


def _encode(
    path: Path,
    frames: list[npt.NDArray[np.uint8]],
    codec: str,
    size: tuple[int, int],
    bit_rate: int,
) -> None:
    """Encode RGB ``frames`` at ``FPS`` into ``path`` (written whole, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp" + path.suffix)
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream(codec, rate=FPS)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if (frame.width, frame.height) != size:
                frame = frame.reformat(width=size[0], height=size[1])
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)


def _decode(path: Path) -> list[npt.NDArray[np.uint8]]:
    """Decode every frame of ``path`` as RGB arrays (the copy is a real transcode)."""
    with av.open(str(path)) as container:
        return [
            np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8)
            for f in container.decode(video=0)
        ]


def write_demo_videos(workdir: Path) -> tuple[Path, Path]:
    """Create ``originals/shapes.mp4`` and ``scan/edited/shapes-reencoded.mp4`` if missing.

    Returns:
        ``(original, copy)`` paths.
    """
    original = workdir / "originals" / "shapes.mp4"
    copy = workdir / "scan" / "edited" / "shapes-reencoded.mp4"
    if not (original.is_file() and copy.is_file()):
        texture = _texture()
        frames = [_frame(i / FPS, texture) for i in range(FPS * SECONDS)]
        _encode(original, frames, "libx264", (WIDTH, HEIGHT), 800_000)
        _encode(copy, _decode(original), "mpeg4", (WIDTH * 3 // 4, HEIGHT * 3 // 4), 300_000)
    return original, copy
