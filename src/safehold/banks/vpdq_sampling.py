"""Bring imported vPDQ hashes to the sampling rate the scanner uses, so their frames line up.

A vPDQ hash is one PDQ hash per sampled frame. The scanner samples
``SAFEHOLD_VPDQ_SECONDS_PER_FRAME`` (default 1 frame per second); a reference file hashed at
every frame (the vPDQ reference tools' ``-s 0``) holds ~30 times as many frames. vPDQ matching
counts the share of *bank* frames that have a partner in the scanned video, so a dense bank
entry cannot reach the match threshold against a 1 fps scan of the very same video (27 % for
``chair-22-sd-grey-bar``). :class:`VpdqResampler` thins such entries when they are imported:
for each ``k = 0, 1, 2, ...`` it keeps the first frame whose timestamp is at or after
``k * interval`` (frames sparser than the interval are all kept).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import replace

from safehold.banks.models import NewEntry
from safehold.errors import FormatError

#: Timestamps in the vPDQ text format have millisecond precision (``0.033``).
_TIME_TOLERANCE = 0.0005


def resample_frames(value: str, seconds_per_frame: float) -> str:
    """Thin a canonical vPDQ value (``frame,quality,pdq_hex,seconds`` lines) to the interval.

    Args:
        value: canonical vPDQ text, frames in time order.
        seconds_per_frame: the interval (> 0), e.g. ``settings.vpdq_seconds_per_frame``.

    Returns:
        The kept lines, unchanged and in order (``value`` itself when nothing is dropped).
    """
    kept: list[str] = []
    lines = value.splitlines()
    next_time = -math.inf
    for line in lines:
        seconds = float(line.rsplit(",", 1)[1])
        if seconds + _TIME_TOLERANCE < next_time:
            continue
        kept.append(line)
        slot = math.floor((seconds + _TIME_TOLERANCE) / seconds_per_frame)
        next_time = (slot + 1) * seconds_per_frame
    return value if len(kept) == len(lines) else "\n".join(kept)


class VpdqResampler:
    """Resamples the vPDQ entries passing through an import, counting what it changed.

    Attributes:
        seconds_per_frame: the interval frames are thinned to.
        resampled: vPDQ entries that had frames dropped.
        frames_before, frames_after: frames of those entries before and after.
    """

    def __init__(self, seconds_per_frame: float) -> None:
        if not seconds_per_frame > 0:
            raise ValueError("seconds_per_frame must be > 0")
        self.seconds_per_frame = seconds_per_frame
        self.resampled = 0
        self.frames_before = 0
        self.frames_after = 0

    def entry(self, entry: NewEntry) -> NewEntry:
        """Return ``entry`` with its frames thinned (only ``vpdq`` entries change)."""
        if entry.signal_type != "vpdq":
            return entry
        value = resample_frames(entry.value, self.seconds_per_frame)
        if value is entry.value:
            return entry
        self.resampled += 1
        self.frames_before += entry.value.count("\n") + 1
        self.frames_after += value.count("\n") + 1
        return replace(entry, value=value)

    def items(self, items: Iterable[NewEntry | FormatError]) -> Iterator[NewEntry | FormatError]:
        """Pass ``items`` (a bank file reader's output) through :meth:`entry`."""
        for item in items:
            yield item if isinstance(item, FormatError) else self.entry(item)

    def describe(self) -> str | None:
        """``"resampled 1 vPDQ entry (673 -> 23 frames) to 1 frame per 1 s"``, or None."""
        if not self.resampled:
            return None
        noun = "entry" if self.resampled == 1 else "entries"
        return (
            f"resampled {self.resampled:,} vPDQ {noun} ({self.frames_before:,} -> "
            f"{self.frames_after:,} frames) to 1 frame per {self.seconds_per_frame:g} s, "
            "the scanner's sampling (SAFEHOLD_VPDQ_SECONDS_PER_FRAME)"
        )
