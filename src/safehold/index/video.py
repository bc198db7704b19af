"""vPDQ video matching through the same index: frame ids, and per-video match counts.

A bank video is indexed as one row per frame, under frame ids that encode the entry id and
the frame number (:func:`frame_ids`), so that live updates stay per entry (``remove(
frame_ids(entry, n))``) and hits tell which bank frame matched. All frames of a query video
go through one ``search_batch`` call; :func:`match_frames` then counts, per bank video, the
query frames with a match and the bank frames matched, and the median nearest distance: the
inputs of ThreatExchange's vPDQ decision (``vpdq_brute_matcher.py``: a video matches when
both shares reach their thresholds, 80 % by default), computed in ``signals.vpdq``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safehold.errors import InvalidInputError
from safehold.index.results import BatchHits
from safehold.index.segment import IdArray

#: Low bits of a frame id that hold the frame number (up to 1,048,576 frames per video).
FRAME_BITS = 20


def frame_ids(entry_id: int, frames: int) -> IdArray:
    """Frame ids ``entry_id * 2**FRAME_BITS + 0..frames-1`` for one bank video.

    Raises:
        InvalidInputError: ``entry_id`` negative or too large, or too many frames.
    """
    if not 0 <= entry_id < 2 ** (63 - FRAME_BITS) or not 0 <= frames <= 2**FRAME_BITS:
        raise InvalidInputError("entry id or frame count out of range for frame ids")
    return (entry_id << FRAME_BITS) + np.arange(frames, dtype=np.int64)


def frame_owners(ids: IdArray) -> IdArray:
    """Entry id of each frame id."""
    return np.asarray(ids, dtype=np.int64) >> FRAME_BITS


@dataclass(frozen=True, eq=False)
class VideoMatches:
    """Per bank video that any query frame matched (sorted by entry id).

    Attributes:
        entry_ids: ``(E,)`` int64 bank entry ids.
        query_frames: ``(E,)`` int64 query frames with at least one match in that video.
        bank_frames: ``(E,)`` int64 distinct frames of that video matched by any query frame.
        median_distance: ``(E,)`` float64 median, over the matched query frames, of the
            distance to their nearest frame of that video (bits).
    """

    entry_ids: IdArray
    query_frames: IdArray
    bank_frames: IdArray
    median_distance: npt.NDArray[np.float64]


def match_frames(hits: BatchHits) -> VideoMatches:
    """Fold the hits of one query video's frames (one query per frame) into per-video counts."""
    qidx = hits.query_index()
    owner = frame_owners(hits.ids)
    # nearest distance per (owner, query frame)
    order = np.lexsort((hits.distances, qidx, owner))
    o, q, d = owner[order], qidx[order], hits.distances[order]
    first = np.ones(len(o), dtype=bool)
    first[1:] = (o[1:] != o[:-1]) | (q[1:] != q[:-1])
    o, d = o[first], d[first].astype(np.float64)
    entries, starts, qcount = np.unique(o, return_index=True, return_counts=True)
    medians = np.array(
        [np.median(d[a : a + c]) for a, c in zip(starts.tolist(), qcount.tolist(), strict=True)],
        dtype=np.float64,
    )
    bank_owner = frame_owners(np.unique(hits.ids))
    bank_count = np.searchsorted(bank_owner, entries, side="right") - np.searchsorted(
        bank_owner, entries, side="left"
    )
    return VideoMatches(
        entries.astype(np.int64), qcount.astype(np.int64), bank_count.astype(np.int64), medians
    )
