"""Frame sampling as the vPDQ reference does it, bounds, and broken or empty videos."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from safehold.errors import (
    ContentTooLargeError,
    CorruptContentError,
    EmptyContentError,
    UnsupportedContentError,
)
from safehold.signals.content import detect_content
from safehold.signals.video import SampledFrame, sample_frames

MakeVideo = Callable[..., Path]


def _sample(path: Path, seconds: float = 1.0, **bounds: float) -> list[SampledFrame]:
    return list(
        sample_frames(
            detect_content(path),
            seconds_per_frame=seconds,
            max_seconds=bounds.get("max_seconds", 3600.0),
            max_pixels=int(bounds.get("max_pixels", 10**8)),
        )
    )


def test_one_frame_per_second(tmp_path: Path, make_video: MakeVideo) -> None:
    frames = _sample(make_video(tmp_path / "a.mkv", 35, fps=10))
    assert [f.number for f in frames] == [0, 10, 20, 30]
    assert [f.timestamp for f in frames] == [0.0, 1.0, 2.0, 3.0]
    assert frames[0].pixels.shape == (48, 64, 3)
    assert frames[0].pixels.dtype == np.uint8


def test_frame_interval_truncates_like_the_reference(tmp_path: Path, make_video: MakeVideo) -> None:
    """frameMod = int(seconds * fps): 29 at 29.97 fps (filehasher.cpp's static_cast)."""
    path = make_video(tmp_path / "ntsc.mkv", 62, fps=Fraction(30000, 1001))
    frames = _sample(path)
    assert [f.number for f in frames] == [0, 29, 58]
    assert frames[1].timestamp == pytest.approx(29 * 1001 / 30000)


def test_every_frame_when_interval_is_below_one_frame(
    tmp_path: Path, make_video: MakeVideo
) -> None:
    frames = _sample(make_video(tmp_path / "a.mkv", 7, fps=10), seconds=0.01)
    assert [f.number for f in frames] == list(range(7))


def test_pixels_are_the_decoded_frame(tmp_path: Path, make_video: MakeVideo, blobs) -> None:  # type: ignore[no-untyped-def]
    frames = _sample(make_video(tmp_path / "a.mkv", 11, fps=10))  # ffv1 RGB: lossless
    assert np.array_equal(frames[1].pixels, np.asarray(blobs(seed=10, size=(64, 48))))


def test_odd_dimensions(tmp_path: Path, make_video: MakeVideo) -> None:
    frames = _sample(make_video(tmp_path / "odd.mkv", 3, size=(33, 25)))
    assert frames[0].pixels.shape == (25, 33, 3)


def test_duration_bound(tmp_path: Path, make_video: MakeVideo) -> None:
    path = make_video(tmp_path / "a.mkv", 40, fps=10)
    with pytest.raises(ContentTooLargeError, match="bound of 2 s"):
        _sample(path, max_seconds=2.0)
    assert len(_sample(path, max_seconds=4.0)) == 4


def test_pixel_bound(tmp_path: Path, make_video: MakeVideo) -> None:
    with pytest.raises(ContentTooLargeError, match="64x48 pixels"):
        _sample(make_video(tmp_path / "a.mkv", 3), max_pixels=1000)


def test_video_without_frames_is_empty(tmp_path: Path, make_video: MakeVideo) -> None:
    with pytest.raises(EmptyContentError, match="no decodable frames"):
        _sample(make_video(tmp_path / "none.mkv", 0))
    # The MP4 muxer drops a track without samples: the file has no video stream at all.
    with pytest.raises(UnsupportedContentError, match="no video stream"):
        _sample(make_video(tmp_path / "none.mp4", 0, codec="mpeg4", fmt="mp4"))


def test_mp4_truncated_after_its_header_is_corrupt(tmp_path: Path, make_video: MakeVideo) -> None:
    whole = make_video(tmp_path / "whole.mp4", 30, codec="mpeg4", fmt="mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:200])  # ftyp and the start of mdat; moov is lost
    with pytest.raises(CorruptContentError, match="corrupt MP4 video"):
        _sample(cut)


def test_broken_container_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "broken.webm"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + np.random.default_rng(5).bytes(4000))
    with pytest.raises((CorruptContentError, EmptyContentError, UnsupportedContentError)):
        _sample(path)


def test_audio_only_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "tone.mkv"
    with av.open(str(path), mode="w", format="matroska") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with pytest.raises(UnsupportedContentError, match="no video stream"):
        _sample(path)
