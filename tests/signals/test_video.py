"""Frame sampling as the vPDQ reference does it, bounds, and broken, truncated or empty videos."""

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
from safehold.signals.video import FrameSampler, SampledFrame, sample_frames

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


def _sampler(path: Path) -> FrameSampler:
    """A sampler at 1 frame per second, with bounds no test file reaches."""
    return FrameSampler(
        detect_content(path), seconds_per_frame=1.0, max_seconds=3600.0, max_pixels=10**8
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
    with pytest.raises(CorruptContentError) as caught:
        _sample(cut)
    assert caught.value.message.startswith(
        "corrupt MP4 video: the file is cut short: it ends inside its 'mdat' box, "
    )
    assert caught.value.message.endswith("; the 'moov' index is missing")


def test_truncated_video_keeps_its_decodable_part_and_says_so(
    truncated_chair: Path, reference: Path
) -> None:
    """Reported: the first half of chair-20 hashed 9 of 21 frames with no error."""
    sampler = _sampler(truncated_chair)
    frames = list(sampler)
    assert sampler.declared_seconds == pytest.approx(314368 / 15360)  # the stream's duration
    assert sampler.partial == (
        "video data ends early: decoded 8.6 s of 20.5 s; hashed the decodable part"
    )
    whole = _sampler(reference / "videos/chair-20-sd-bar.mp4")
    whole_frames = list(whole)
    assert whole.partial is None
    assert len(whole_frames) == 21
    assert [f.number for f in frames] == [f.number for f in whole_frames[:9]]
    for cut, full in zip(frames, whole_frames, strict=False):
        assert np.array_equal(cut.pixels, full.pixels)


def test_damaged_packets_are_skipped_and_reported(reference: Path, tmp_path: Path) -> None:
    data = bytearray((reference / "videos/chair-20-sd-bar.mp4").read_bytes())
    data[1_000_000:1_100_000] = np.random.default_rng(1).bytes(100_000)  # mid-file damage
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    sampler = _sampler(path)
    frames = list(sampler)
    assert sampler.bad_packets > 0
    assert sampler.partial == (
        f"video data has {sampler.bad_packets} undecodable packets "
        "(Invalid data found when processing input); hashed the decodable part"
    )
    assert 15 <= len(frames) <= 21  # the frames after the damage are still hashed
    assert sampler.decoded_seconds == pytest.approx(sampler.declared_seconds, abs=0.1)


def test_whole_generated_videos_are_not_partial(tmp_path: Path, make_video: MakeVideo) -> None:
    for name, codec, fmt in [("a.mkv", "ffv1", "matroska"), ("a.mp4", "mpeg4", "mp4")]:
        path = make_video(tmp_path / name, 25, fps=10, codec=codec, fmt=fmt)
        sampler = _sampler(path)
        assert len(list(sampler)) == 3
        assert sampler.decoded_seconds == pytest.approx(2.5)
        assert sampler.partial is None, name


def test_truncated_matroska_ends_early(tmp_path: Path, make_video: MakeVideo) -> None:
    whole = make_video(tmp_path / "a.mkv", 60, fps=10, codec="mpeg4", fmt="matroska")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    sampler = _sampler(cut)
    assert 1 <= len(list(sampler)) < 6
    assert sampler.partial is not None
    assert sampler.partial.startswith("video data ends early: decoded ")
    assert sampler.partial.endswith(" of 6.0 s; hashed the decodable part")


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
    with pytest.raises(UnsupportedContentError, match="no video stream, only audio"):
        _sample(path)
