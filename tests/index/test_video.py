"""vPDQ through the index: per-video frame match counts equal a brute-force computation."""

from __future__ import annotations

import numpy as np
import pytest
from index_reference import distance_matrix, flip_bits, random_rows

from safehold.errors import InvalidInputError
from safehold.index import BinaryIndex
from safehold.index.video import frame_ids, frame_owners, match_frames


def test_frame_ids_round_trip_and_bounds() -> None:
    ids = frame_ids(12, 3)
    assert frame_owners(ids).tolist() == [12, 12, 12]
    assert len(set(ids.tolist())) == 3
    with pytest.raises(InvalidInputError):
        frame_ids(-1, 3)
    with pytest.raises(InvalidInputError):
        frame_ids(1, 2**21)


def test_match_frames_equals_brute_force_per_video() -> None:
    rng = np.random.default_rng(3)
    videos = {entry: random_rows(int(rng.integers(3, 30)), 4, rng) for entry in range(40)}
    index = BinaryIndex(256, flat_limit=0)
    for entry, frames in videos.items():
        index.add(frame_ids(entry, len(frames)), frames)
    # the query re-encodes most frames of video 7 and a few of video 9
    query = np.concatenate(
        [
            flip_bits(videos[7][2:], rng.integers(0, 25, len(videos[7]) - 2), rng),
            flip_bits(videos[9][:2], np.array([3, 40]), rng),
            random_rows(5, 4, rng),
        ]
    )
    got = match_frames(index.search_batch(query, 31))
    want = {}
    for entry, frames in videos.items():
        dist = distance_matrix(query, frames)
        close = dist <= 31
        if close.any():
            nearest = np.where(close, dist, 10**6).min(axis=1)[close.any(axis=1)]
            want[entry] = (
                int(close.any(axis=1).sum()),
                int(close.any(axis=0).sum()),
                float(np.median(nearest)),
            )
    assert got.entry_ids.tolist() == sorted(want)
    for i, entry in enumerate(got.entry_ids.tolist()):
        assert (
            int(got.query_frames[i]),
            int(got.bank_frames[i]),
            float(got.median_distance[i]),
        ) == want[entry]
    assert 7 in want
    index.remove(frame_ids(7, len(videos[7])))  # live removal of one video, all frames
    assert 7 not in match_frames(index.search_batch(query, 31)).entry_ids.tolist()
