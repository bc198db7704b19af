"""Which decoded frames of a live stream get hashed: a regular rate plus scene changes.

Regular samples follow the stream's clock: a frame is sampled when its time reaches the next
due time (``sample_seconds`` after the last sample, with a tenth of the interval of slack so
keyframes that arrive exactly on the interval are not skipped for a rounding error). Streams
with a variable frame rate are sampled by time, not by frame count.

Confirmation: after a sample matches, samples come twice as often for the decision's window
(:meth:`LiveSampler.confirm`), so the k-of-n decision completes within about a second even
when single samples of the known material miss (a bank holding one frame per second of a
moving clip matches some samples only).

Scene changes: every decoded frame is shrunk to a 16x16 grey thumbnail (swscale, a fraction
of a millisecond) and compared with the previous one; a mean absolute difference above
``scene_threshold`` (0-255) samples the frame at once, so a cut to known material is hashed
on its first decoded frame instead of up to one interval later. This is the cheap
frame-difference detector of Zhang, Kankanhalli and Smoliar, "Automatic partitioning of
full-motion video" (Multimedia Systems 1(1), 1993), on a tiny thumbnail; the default bound
of 30 was chosen on the reference clips (a cut between the doorknob and chair clips measures
well above 60; motion within a clip stays under 15). Scene samples are at least a quarter
interval apart, so a flashing stream cannot make every frame a sample.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

THUMB_SIZE = 16
#: How much faster samples come while a match is being confirmed.
CONFIRM_SPEEDUP = 2.0
#: Slack on the due time, as a share of the interval.
DUE_SLACK = 0.1


class LiveSampler:
    """Decide, frame by frame, whether to hash.

    Args:
        sample_seconds: seconds of stream time between regular samples (> 0).
        scene_threshold: mean absolute thumbnail difference (0-255) that makes a scene
            change; 0 disables scene samples (and the thumbnails).
    """

    def __init__(self, sample_seconds: float, scene_threshold: float) -> None:
        self.sample_seconds = sample_seconds
        self.scene_threshold = scene_threshold
        self._due: float | None = None
        self._confirm_until = float("-inf")
        self._last_sample: float | None = None
        self._thumb: npt.NDArray[np.int16] | None = None

    def reset(self) -> None:
        """Forget the schedule and the last thumbnail (after a reconnect or a time jump)."""
        self._due = None
        self._last_sample = None
        self._thumb = None

    def offer(self, at: float, frame: av.VideoFrame) -> str | None:
        """``"interval"`` or ``"scene"`` when the frame at stream time ``at`` (seconds) should
        be hashed, else None."""
        reason: str | None = None
        if self.scene_threshold > 0:
            thumb = (
                frame.reformat(width=THUMB_SIZE, height=THUMB_SIZE, format="gray")
                .to_ndarray()
                .astype(np.int16)
            )
            previous, self._thumb = self._thumb, thumb
            if previous is not None and (
                float(np.abs(thumb - previous).mean()) > self.scene_threshold
                and (self._last_sample is None or at - self._last_sample >= self.sample_seconds / 4)
            ):
                reason = "scene"
        interval = self.sample_seconds / (CONFIRM_SPEEDUP if at < self._confirm_until else 1)
        if self._due is None or at >= self._due - DUE_SLACK * interval:
            reason = reason or "interval"
        if reason is not None:
            self._last_sample = at
            self._due = at + interval
        return reason

    def confirm(self, at: float, seconds: float) -> None:
        """A sample at stream time ``at`` matched: sample :data:`CONFIRM_SPEEDUP` times as
        often for the next ``seconds`` (the decision's window), so k of n is reached sooner."""
        self._confirm_until = at + seconds
        if self._due is not None:
            self._due = min(self._due, at + self.sample_seconds / CONFIRM_SPEEDUP)
