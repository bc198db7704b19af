"""The ``vpdq`` signal type: Meta's video PDQ, one PDQ hash per sampled frame.

Frames come from :mod:`safehold.signals.video` (the reference's sampling, decision 0003) and are
hashed with the PDQ reference (``pdqhash``). Consecutive frames with identical hashes collapse
into the first; ``Signal.quality`` is the mean quality of the sampled frames. A damaged or
truncated file gives the signal of its decodable part with ``Signal.partial`` saying what was
lost (see :class:`safehold.signals.video.FrameSampler`).

Serialised form (``Signal.value``): the vPDQ reference's text format, one line per kept frame,
``frame_number,quality,pdq_hex,timestamp_seconds`` with 3 decimals, joined by ``"\\n"`` (as in
ThreatExchange ``vpdq/sample-hashes``). :meth:`VpdqSignalType.validate_signal` also accepts
python-threatexchange's JSON form (a list of ``"pdq_hex,quality,timestamp"`` strings; frame
numbers are then the list positions) and :func:`to_pytx_json` writes it.

Matching (ThreatExchange ``vpdq_brute_matcher.py`` / ``matchTwoHash.cpp``): both sides drop
frames of quality below ``min_quality`` (50) and keep unique hashes; the query match percent
is the share of query frames with a bank frame within the frame threshold (31 bits), the bank
match percent the share of bank frames with a query frame within it. A video matches when
both reach their bounds (80 % and 80 %, ``Settings.vpdq_query_match_percent`` and
``vpdq_bank_match_percent``). ``IndexHit.distance`` is the median, over matched query frames,
of the distance to their nearest frame of that video (bits, so it compares with the frame
threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from safehold.index.binary import BinaryIndex
from safehold.index.video import frame_ids, match_frames
from safehold.signals.base import (
    SIGNAL_TYPES,
    Content,
    ContentType,
    IndexHit,
    Signal,
    SignalIndex,
    SignalType,
)
from safehold.signals.pdq import HASH_BITS, hash_pixels
from safehold.signals.video import FrameSampler
from safehold.signals.vpdq_frames import (
    DEFAULT_FRAME_THRESHOLD,
    DEFAULT_MIN_QUALITY,
    VpdqFrame,
    VpdqMatch,
    compare,
    format_frames,
    pairwise_distances,
    parse_frames,
    to_pytx_json,
    usable_rows,
)

__all__ = [
    "VpdqFrame",
    "VpdqIndex",
    "VpdqMatch",
    "VpdqSignalType",
    "compare",
    "format_frames",
    "parse_frames",
    "to_pytx_json",
]

#: Defaults of the reference matcher (and of ``Settings``).
DEFAULT_QUERY_MATCH_PERCENT = 80.0
DEFAULT_BANK_MATCH_PERCENT = 80.0


class VpdqIndex(SignalIndex):
    """All bank frames in one :class:`BinaryIndex`; one batch search over query frames.

    Bank video *i* (in ``entries`` order among those with usable frames) is indexed under
    ``frame_ids(i, n_frames)``; the frame hits of a query give the candidate videos and,
    per video, the query and bank frames matched (:func:`safehold.index.match_frames`).

    Args:
        entries: validated ``(entry_id, vpdq value)`` pairs; entries without usable frames
            are kept out (they can never match).
        min_quality: frames below this quality are ignored on both sides.
        query_match_percent: share of query frames that must match (0-100).
        bank_match_percent: share of the bank video's frames that must match (0-100).
    """

    def __init__(
        self,
        entries: Sequence[tuple[int, str]],
        *,
        min_quality: int = DEFAULT_MIN_QUALITY,
        query_match_percent: float = DEFAULT_QUERY_MATCH_PERCENT,
        bank_match_percent: float = DEFAULT_BANK_MATCH_PERCENT,
    ) -> None:
        self.min_quality = min_quality
        self.query_match_percent = query_match_percent
        self.bank_match_percent = bank_match_percent
        self._count = len(entries)
        blocks: list[npt.NDArray[np.uint64]] = []
        keys: list[npt.NDArray[np.int64]] = []
        ids: list[int] = []
        sizes: list[int] = []
        for entry_id, value in entries:
            rows = usable_rows(parse_frames(value), min_quality)
            if len(rows):
                keys.append(frame_ids(len(ids), len(rows)))
                blocks.append(rows)
                ids.append(entry_id)
                sizes.append(len(rows))
        self._entry_ids = np.asarray(ids, dtype=np.int64)
        self._frames_per_entry = np.asarray(sizes, dtype=np.int64)
        words = HASH_BITS // 64
        self.binary = BinaryIndex.from_arrays(
            np.concatenate(keys) if keys else np.empty(0, np.int64),
            np.concatenate(blocks) if blocks else np.empty((0, words), np.uint64),
            bits=HASH_BITS,
        )

    def __len__(self) -> int:
        return self._count

    def query(self, signal: Signal, threshold: int) -> list[IndexHit]:
        """Bank videos that match ``signal`` with frame threshold ``threshold`` bits.

        Raises:
            InvalidSignalError: ``signal.value`` is not a vPDQ signal.
        """
        query_rows = usable_rows(parse_frames(signal.value), self.min_quality)
        if len(query_rows) == 0 or len(self._entry_ids) == 0:
            return []
        found = match_frames(self.binary.search_batch(query_rows, threshold))
        query_pct = 100.0 * found.query_frames / len(query_rows)
        bank_pct = 100.0 * found.bank_frames / self._frames_per_entry[found.entry_ids]
        ok = (query_pct >= self.query_match_percent) & (bank_pct >= self.bank_match_percent)
        hits = [
            IndexHit(int(self._entry_ids[video]), round(float(median)))
            for video, median in zip(
                found.entry_ids[ok].tolist(), found.median_distance[ok].tolist(), strict=True
            )
        ]
        hits.sort(key=lambda h: (h.distance, h.entry_id))
        return hits


@SIGNAL_TYPES.register("vpdq")
class VpdqSignalType(SignalType):
    """vPDQ video hashes; threshold = per-frame Hamming distance (default 31 bits).

    Frame quality gating happens inside the index (per frame), so the signal-level
    ``default_min_quality`` is 0.
    """

    name: ClassVar[str] = "vpdq"
    content_types: ClassVar[frozenset[ContentType]] = frozenset({ContentType.VIDEO})
    default_threshold: ClassVar[int] = DEFAULT_FRAME_THRESHOLD
    max_distance: ClassVar[int] = HASH_BITS
    default_min_quality: ClassVar[int] = 0

    @classmethod
    def validate_signal(cls, value: str) -> str:
        """Return the canonical text form of ``value`` (text lines or pytx JSON).

        Raises:
            InvalidSignalError: malformed or empty.
        """
        return format_frames(parse_frames(value))

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Median distance (bits) from ``a``'s usable frames to their nearest frame of ``b``.

        256 when either side has no usable frame. This is not the match decision; use
        :func:`compare` (or the index) for that.
        """
        qa = usable_rows(parse_frames(a), DEFAULT_MIN_QUALITY)
        qb = usable_rows(parse_frames(b), DEFAULT_MIN_QUALITY)
        if len(qa) == 0 or len(qb) == 0:
            return HASH_BITS
        return round(float(np.median(pairwise_distances(qa, qb).min(axis=1))))

    @classmethod
    def build_index(
        cls,
        entries: Sequence[tuple[int, str]],
        *,
        min_quality: int = DEFAULT_MIN_QUALITY,
        query_match_percent: float = DEFAULT_QUERY_MATCH_PERCENT,
        bank_match_percent: float = DEFAULT_BANK_MATCH_PERCENT,
    ) -> VpdqIndex:
        """Build a :class:`VpdqIndex` (keyword bounds as in its constructor)."""
        return VpdqIndex(
            entries,
            min_quality=min_quality,
            query_match_percent=query_match_percent,
            bank_match_percent=bank_match_percent,
        )

    def hash_frames(self, content: Content) -> list[VpdqFrame]:
        """Sampled frames of ``content`` with their PDQ, before collapsing duplicates."""
        return self.hash_frames_partial(content)[0]

    def hash_frames_partial(self, content: Content) -> tuple[list[VpdqFrame], str | None]:
        """:meth:`hash_frames` and ``FrameSampler.partial``: None for a whole file, else why
        only part of the video could be decoded (the frames are those of that part)."""
        options = self.options
        sampler = FrameSampler(
            content,
            seconds_per_frame=options.vpdq_seconds_per_frame,
            max_seconds=options.max_video_seconds,
            max_pixels=options.max_image_pixels,
        )
        frames = [
            VpdqFrame(f.number, quality, pdq_hex, round(f.timestamp, 3))
            for f in sampler
            for pdq_hex, quality in [hash_pixels(f.pixels)]
        ]
        return frames, sampler.partial

    def _compute(self, content: Content) -> Signal:
        frames, partial = self.hash_frames_partial(content)
        kept = [f for i, f in enumerate(frames) if i == 0 or f.pdq_hex != frames[i - 1].pdq_hex]
        quality = round(sum(f.quality for f in frames) / len(frames))
        return Signal(self.name, format_frames(kept), quality, partial=partial)
