"""vpdq: conformance with the vPDQ reference output, matching rules, format, index, errors.

Match findings on the reference clips (measured; see docs/signals.md):
- chair-20, grey, sepia, small-logo and orig match each other at 80 %/80 % (1 frame/s).
- chair-19 is a cut of the clip starting at frame 111 (3.7 s): at 1 frame/s its samples fall
  0.3-0.7 s away from the others' samples, and the chair moves too much in that time. The
  reference's own hashes, sampled the same way, do not match either; every-frame hashes do.
- chair-22-with-large-logo-bar is ~54 bits from the others frame by frame (the logo covers
  much of the picture): no match even with the reference's every-frame hashes.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

from safehold.errors import UnsupportedContentError
from safehold.signals import get_signal_type
from safehold.signals.base import HashOptions, Signal
from safehold.signals.content import detect_content
from safehold.signals.pdq import PdqSignalType
from safehold.signals.vpdq import (
    VpdqFrame,
    VpdqSignalType,
    compare,
    format_frames,
    parse_frames,
)

Reference = Callable[[str], list[VpdqFrame]]
CHAIR_CLIPS = (
    "chair-19-sd-bar",
    "chair-20-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-large-logo-bar",
    "chair-22-with-small-logo-bar",
    "chair-orig-22-sd-bar",
)
MATCHING = (
    "chair-20-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-small-logo-bar",
    "chair-orig-22-sd-bar",
)


def _matches(query: str, bank: str) -> bool:
    result = compare(query, bank)
    return result.query_match_percent >= 80 and result.bank_match_percent >= 80


def _every(frames: list[VpdqFrame], step: int) -> str:
    return format_frames([f for f in frames if f.number % step == 0])


def test_registered() -> None:
    cls = get_signal_type("vpdq")
    assert cls is VpdqSignalType
    assert (cls.default_threshold, cls.max_distance) == (31, 256)


@pytest.mark.parametrize("clip", [*CHAIR_CLIPS, "doorknob-hd-no-bar"])
def test_conformance_with_reference_frames(
    clip: str, video_signals: dict[str, Signal], reference_vpdq: Reference
) -> None:
    ours = parse_frames(video_signals[clip].value)
    theirs = {f.number: f for f in reference_vpdq(clip)}
    assert ours[0].number == 0
    assert all(f.number % 30 == 0 for f in ours)  # 30 fps clips, 1 frame per second
    distances = []
    for frame in ours:
        ref = theirs[frame.number]
        assert f"{frame.timestamp:.3f}" == f"{ref.timestamp:.3f}"
        assert frame.quality == ref.quality
        if ref.quality >= 50:
            distances.append(PdqSignalType.distance(frame.pdq_hex, ref.pdq_hex))
    assert distances
    assert statistics.median(distances) <= 4  # measured 0-2
    assert max(distances) <= 31
    assert sum(d <= 8 for d in distances) >= 0.9 * len(distances)  # measured: all <= 6


def test_quality_is_the_mean_frame_quality(video_signals: dict[str, Signal]) -> None:
    doorknob = video_signals["doorknob-hd-no-bar"]
    assert [f.quality for f in parse_frames(doorknob.value)] == [100, 68, 0, 24]
    assert doorknob.quality == 48
    assert video_signals["chair-orig-22-sd-bar"].quality == 100


def test_odd_dimension_clip_hashes(video_signals: dict[str, Signal]) -> None:
    frames = parse_frames(video_signals["test-padded-dimensions"].value)
    assert [f.number for f in frames] == [0, 30, 60, 90, 120]


@pytest.mark.parametrize(("a", "b"), list(itertools.permutations(MATCHING, 2)))
def test_chair_versions_match(a: str, b: str, video_signals: dict[str, Signal]) -> None:
    assert _matches(video_signals[a].value, video_signals[b].value)


@pytest.mark.parametrize("clip", CHAIR_CLIPS)
def test_doorknob_matches_no_chair(clip: str, video_signals: dict[str, Signal]) -> None:
    doorknob = video_signals["doorknob-hd-no-bar"].value
    assert not _matches(doorknob, video_signals[clip].value)
    assert not _matches(video_signals[clip].value, doorknob)


def test_chair_19_is_a_time_shifted_cut(
    video_signals: dict[str, Signal], reference_vpdq: Reference
) -> None:
    cut, orig = reference_vpdq("chair-19-sd-bar"), reference_vpdq("chair-orig-22-sd-bar")
    assert PdqSignalType.distance(cut[0].pdq_hex, orig[111].pdq_hex) == 0  # starts at frame 111
    # Every frame hashed (the reference's files): a match.
    assert _matches(format_frames(cut), format_frames(orig))
    # One frame per second, the reference's own hashes or ours: no match.
    assert not _matches(_every(cut, 30), _every(orig, 30))
    ours = compare(
        video_signals["chair-19-sd-bar"].value, video_signals["chair-orig-22-sd-bar"].value
    )
    assert ours.query_match_percent < 80
    assert ours.bank_match_percent < 80


def test_large_logo_does_not_match_even_frame_by_frame(reference_vpdq: Reference) -> None:
    logo = format_frames(reference_vpdq("chair-22-with-large-logo-bar"))
    result = compare(logo, format_frames(reference_vpdq("chair-orig-22-sd-bar")))
    assert result.query_match_percent < 20
    assert result.bank_match_percent < 20


@pytest.mark.slow
def test_every_frame_hashing_matches_the_cut(reference: Path) -> None:
    hasher = VpdqSignalType(HashOptions(vpdq_seconds_per_frame=0.001))
    videos = reference / "videos"
    cut = hasher.hash_content(detect_content(videos / "chair-19-sd-bar.mp4"))
    orig = hasher.hash_content(detect_content(videos / "chair-orig-22-sd-bar.mp4"))
    assert _matches(cut.value, orig.value)


def test_index_finds_matching_videos(video_signals: dict[str, Signal]) -> None:
    names = sorted((*CHAIR_CLIPS, "doorknob-hd-no-bar", "test-padded-dimensions"))
    index = VpdqSignalType.build_index([(i, video_signals[n].value) for i, n in enumerate(names)])
    assert len(index) == len(names)
    for query in names:
        found = {names[h.entry_id] for h in index.query(video_signals[query], 31)}
        expected = {
            n for n in names if _matches(video_signals[query].value, video_signals[n].value)
        }
        assert found == expected, query
        assert query in found or query == "doorknob-hd-no-bar"  # its own 2 usable frames match
    hits = index.query(video_signals["chair-orig-22-sd-bar"], 31)
    assert hits[0].distance == 0
    assert all(0 <= h.distance <= 31 for h in hits)


def test_index_percent_bounds(video_signals: dict[str, Signal]) -> None:
    bank = [(1, video_signals["chair-19-sd-bar"].value)]
    query = video_signals["chair-orig-22-sd-bar"]
    assert VpdqSignalType.build_index(bank).query(query, 31) == []
    loose = VpdqSignalType.build_index(bank, query_match_percent=0, bank_match_percent=0)
    assert [h.entry_id for h in loose.query(query, 31)] == [1]


def test_low_quality_frames_are_ignored() -> None:
    low = "0,10,0000000000000000000000000000000000000000000000000000000000000000,0.000"
    good = "0,100,ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff,0.000"
    index = VpdqSignalType.build_index([(1, low), (2, good)])
    assert index.query(Signal("vpdq", low), 31) == []
    assert [h.entry_id for h in index.query(Signal("vpdq", good), 31)] == [2]
    permissive = VpdqSignalType.build_index([(1, low)], min_quality=0)
    assert [h.entry_id for h in permissive.query(Signal("vpdq", low), 31)] == [1]


def test_distance_is_the_median_nearest_frame_distance(video_signals: dict[str, Signal]) -> None:
    orig = video_signals["chair-orig-22-sd-bar"].value
    assert VpdqSignalType.distance(orig, orig) == 0
    assert VpdqSignalType.distance(orig, video_signals["chair-22-sd-grey-bar"].value) <= 4
    assert VpdqSignalType.distance(orig, video_signals["doorknob-hd-no-bar"].value) > 31


def test_consecutive_duplicate_frames_collapse(tmp_path: Path, make_video) -> None:  # type: ignore[no-untyped-def]
    path = make_video(tmp_path / "still.mkv", 50, fps=10, hold=30)  # 3 s still, then 2 s
    signal = VpdqSignalType().hash_content(detect_content(path))
    assert [f.number for f in parse_frames(signal.value)] == [0, 30]


def test_photos_are_not_vpdq_content(reference: Path) -> None:
    with pytest.raises(UnsupportedContentError):
        VpdqSignalType().hash_content(detect_content(reference / "images/misc-images/wee.jpg"))


def test_reference_clips_are_whole(video_signals: dict[str, Signal]) -> None:
    for clip in (*CHAIR_CLIPS, "doorknob-hd-no-bar", "test-padded-dimensions"):
        assert video_signals[clip].partial is None, clip


def test_truncated_clip_gives_the_signal_of_its_first_part(
    truncated_chair: Path, video_signals: dict[str, Signal]
) -> None:
    signal = VpdqSignalType().hash_content(detect_content(truncated_chair))
    assert signal.partial == (
        "video data ends early: decoded 8.6 s of 20.5 s; hashed the decodable part"
    )
    whole = parse_frames(video_signals["chair-20-sd-bar"].value)
    part = parse_frames(signal.value)
    assert [f.number for f in part] == [0, 30, 60, 90, 120, 150, 180, 210, 240]
    assert part == whole[: len(part)]
    found = compare(signal.value, video_signals["chair-20-sd-bar"].value)
    assert found.query_match_percent == 100.0  # every frame it has is in the whole clip
