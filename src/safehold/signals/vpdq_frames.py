"""vPDQ frame lists: the reference text format, python-threatexchange's JSON, and matching.

A vPDQ signal is a list of frames ``(frame_number, quality, pdq_hex, timestamp)``. Its text
form is the reference's (ThreatExchange ``vpdq/sample-hashes``): one line per frame,
``frame_number,quality,pdq_hex,timestamp_seconds`` with 3 decimals, joined by ``"\n"``.
python-threatexchange's ``VPDQSignal`` stores a JSON list of ``"pdq_hex,quality,timestamp"``
strings instead (no frame numbers; its timestamp is written with ``{:.3}``, 3 significant
digits); :func:`parse_frames` reads both and :func:`to_pytx_json` writes the latter.

:func:`compare` is the reference matcher (ThreatExchange ``vpdq_brute_matcher.py``,
``match_VPDQ_hash_brute``): drop frames below ``min_quality``, keep unique hashes, then the
query match percent is the share of query frames with a bank frame within the frame threshold
and the bank ("compared") match percent the share of bank frames with a query frame within it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from safehold.errors import InvalidSignalError
from safehold.index.flat import hex_to_rows, popcount_rows
from safehold.signals.pdq import PdqSignalType

#: Defaults of the reference matcher (and of ``Settings``).
DEFAULT_MIN_QUALITY = 50
DEFAULT_FRAME_THRESHOLD = 31


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One hashed frame: number, PDQ quality (0-100), PDQ hex, timestamp in seconds."""

    number: int
    quality: int
    pdq_hex: str
    timestamp: float

    def line(self) -> str:
        """The reference text line ``frame_number,quality,pdq_hex,timestamp``."""
        return f"{self.number},{self.quality},{self.pdq_hex},{self.timestamp:.3f}"


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    """Result of comparing two vPDQ signals (percentages 0-100 of unique usable frames)."""

    query_match_percent: float
    bank_match_percent: float


def _frame(number: str, quality: str, pdq_hex: str, timestamp: str, where: str) -> VpdqFrame:
    try:
        frame = VpdqFrame(
            int(number), int(quality), PdqSignalType.validate_signal(pdq_hex), float(timestamp)
        )
    except (ValueError, InvalidSignalError):
        raise InvalidSignalError(f"vpdq {where} does not parse") from None
    if frame.number < 0 or not 0 <= frame.quality <= 100:
        raise InvalidSignalError(f"vpdq {where}: frame number or quality out of range")
    if not math.isfinite(frame.timestamp) or frame.timestamp < 0:
        raise InvalidSignalError(f"vpdq {where}: bad timestamp")
    return frame


def parse_frames(value: str) -> list[VpdqFrame]:
    """Parse a vPDQ signal (reference text lines or python-threatexchange JSON).

    Raises:
        InvalidSignalError: malformed, or no frames (messages name the line, not its hash).
    """
    text = value.strip()
    frames: list[VpdqFrame] = []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            raise InvalidSignalError("vpdq JSON does not parse") from None
        if not isinstance(items, list):
            raise InvalidSignalError("vpdq JSON must be a list of strings")
        for i, item in enumerate(items):
            parts = item.split(",") if isinstance(item, str) else []
            if len(parts) != 3:
                raise InvalidSignalError(f"vpdq JSON item {i + 1} is not 'hash,quality,time'")
            frames.append(_frame(str(i), parts[1], parts[0], parts[2], f"JSON item {i + 1}"))
    else:
        for i, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            parts = line.strip().split(",")
            if len(parts) != 4:
                raise InvalidSignalError(f"vpdq line {i + 1} does not have 4 fields")
            number, quality, pdq_hex, timestamp = parts
            frames.append(_frame(number, quality, pdq_hex, timestamp, f"line {i + 1}"))
    if not frames:
        raise InvalidSignalError("vpdq signal has no frames")
    return frames


def format_frames(frames: Sequence[VpdqFrame]) -> str:
    """Serialise frames in the reference text format (lines joined by ``"\\n"``)."""
    return "\n".join(frame.line() for frame in frames)


def to_pytx_json(value: str) -> str:
    """python-threatexchange's form of a vPDQ signal (``VPDQSignal``; frame numbers dropped)."""
    return json.dumps([f"{f.pdq_hex},{f.quality},{f.timestamp:.3}" for f in parse_frames(value)])


def usable_rows(frames: Sequence[VpdqFrame], min_quality: int) -> npt.NDArray[np.uint64]:
    """``(N, 4)`` rows of the unique hashes of frames with quality >= ``min_quality``."""
    unique = dict.fromkeys(f.pdq_hex for f in frames if f.quality >= min_quality)
    return hex_to_rows(list(unique))


def pairwise_distances(
    a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]
) -> npt.NDArray[np.int64]:
    """``(len(a), len(b))`` Hamming distances."""
    out = np.empty((len(a), len(b)), dtype=np.int64)
    for i, row in enumerate(a):
        out[i] = popcount_rows(b ^ row[np.newaxis, :])
    return out


def compare(
    query: str,
    bank: str,
    *,
    frame_threshold: int = DEFAULT_FRAME_THRESHOLD,
    min_quality: int = DEFAULT_MIN_QUALITY,
) -> VpdqMatch:
    """Match percentages of two vPDQ signals (the reference's ``match_VPDQ_hash_brute``).

    A side with no usable frames gives 0 %.
    """
    q = usable_rows(parse_frames(query), min_quality)
    b = usable_rows(parse_frames(bank), min_quality)
    if len(q) == 0 or len(b) == 0:
        return VpdqMatch(0.0, 0.0)
    close = pairwise_distances(q, b) <= frame_threshold
    return VpdqMatch(100.0 * close.any(axis=1).mean(), 100.0 * close.any(axis=0).mean())
