"""Watch one stream: connect, sample, hash, match, decide; reconnect with backoff; never raise.

:class:`StreamMonitor.run` is the whole life of one stream in one thread. Its state
(:class:`~safehold.livestreams.models.StreamState`) and counters are read by the pool that
owns it (and written to the database there); its alerts go to the ``on_alert`` callback.

Frames are hashed with the ``scan`` recipe for video frames (:mod:`safehold.signals.video`):
RGB24 at native size through swscale's area filter, then the PDQ reference
(:func:`safehold.signals.pdq.hash_pixels`); each hash is matched as a ``pdq`` signal through
the given matcher (the service's :class:`~safehold.matching.live.LiveMatcher`, kept fresh
from the change log), so thresholds and ``pdq_min_quality`` are the scan's.

Stream time is the stream's own clock, counted from the first frame this monitor decoded and
carried across reconnects (a reconnect continues from the last time seen). A jump backwards
or more than :data:`MAX_FORWARD_JUMP_S` forwards (a restarted encoder, a discontinuity) is
re-based the same way, so decisions and reported times stay monotonic.

Reconnects: after a failed open, a stall or a broken connection the monitor waits
``backoff(attempt)`` (equal jitter over ``min(60 s, stream_backoff_seconds * 2**(attempt-1))``,
the webhook deliverer's :func:`~safehold.actions.webhooks.backoff_delay`) and tries again;
``stream_max_retries`` failures in a row without a frame in between make it ``failed``.
The end of the stream makes it ``ended``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from safehold.actions.webhooks import backoff_delay
from safehold.livestreams.decision import KOfNDecider
from safehold.livestreams.egress_proxy import proxy_options
from safehold.livestreams.models import (
    StreamAlert,
    StreamConfig,
    StreamCounters,
    StreamState,
)
from safehold.livestreams.reader import (
    StreamOpenError,
    StreamReader,
    StreamStalledError,
    describe,
)
from safehold.livestreams.sampling import LiveSampler
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings
from safehold.signals import Signal
from safehold.signals.pdq import hash_pixels

log = logging.getLogger(__name__)

#: Larger forward jumps of the stream clock are treated as a discontinuity.
MAX_FORWARD_JUMP_S = 30.0
MAX_BACKOFF_S = 60.0

Matcher = Callable[[Signal], list[MatchInfo]]
AlertSink = Callable[[StreamAlert], None]


class StreamMonitor:
    """The monitor of one stream.

    Args:
        source: the stream URL (checked by :func:`~safehold.livestreams.policy.check_stream_url`
            before), or a local path in benchmarks.
        whitelist: FFmpeg ``protocol_whitelist`` for ``source``.
        config: sampling and decisions.
        settings: timeouts, backoff, ``stream_max_retries``; ``fetch_allow_networks`` for the
            egress proxy every ``http``/``https`` request goes through
            (:mod:`~safehold.livestreams.egress_proxy`).
        match: returns the matches of one PDQ signal (may raise: logged, sample counted as
            unmatched).
        on_alert: called with each alert, in the monitor's thread (may raise: logged).
        stop: set it to end :meth:`run` (checked between frames and during backoff).
        reader_options: extra FFmpeg options for each connection.

    Attributes:
        state, counters, last_error: read by the owner at any time (plain assignments).
        history: the states gone through, in order (the last 100).
        mode: the reader's decode mode in effect.
    """

    def __init__(
        self,
        source: str,
        whitelist: str,
        config: StreamConfig,
        settings: Settings,
        *,
        match: Matcher,
        on_alert: AlertSink,
        stop: threading.Event | None = None,
        reader_options: dict[str, str] | None = None,
    ) -> None:
        self.source = source
        self.whitelist = whitelist
        self.config = config
        self.settings = settings
        self.match = match
        self.on_alert = on_alert
        self.stop = stop or threading.Event()
        scheme = source.partition(":")[0].lower()
        self.reader_options = {
            **proxy_options(scheme, settings.fetch_allow_networks),
            **(reader_options or {}),
        }
        self.history: list[StreamState] = []
        self._state = StreamState.PENDING
        self.counters = StreamCounters()
        self.last_error: str | None = None
        self.mode = "-"
        self.first_frame_time: float | None = None
        self._decider = KOfNDecider(config)
        self._sampler = LiveSampler(config.sample_seconds, config.scene_threshold)
        self._clock_base: tuple[float, float] | None = None  # (stream pts, stream seconds)
        self._last_pts: float | None = None
        self._reader: StreamReader | None = None

    @property
    def state(self) -> StreamState:
        """The current state; each change is appended to ``history`` (the last 100)."""
        return self._state

    @state.setter
    def state(self, value: StreamState) -> None:
        if value is not self._state or not self.history:
            self.history = [*self.history[-99:], value]
        self._state = value

    def run(self) -> StreamState:
        """Watch until the stream ends, fails or ``stop`` is set; return the final state.
        Never raises (a surprise is logged and makes the stream ``failed``)."""
        try:
            self.state = self._run()
        except Exception as exc:  # one bad stream never takes the process down
            log.exception("stream monitor failed")
            self.last_error = f"internal error: {type(exc).__name__}"
            self.state = StreamState.FAILED
        return self.state

    def _run(self) -> StreamState:
        failures = 0
        while not self.stop.is_set():
            self.state = StreamState.CONNECTING
            reader = StreamReader(
                self.source,
                whitelist=self.whitelist,
                decode=self.config.decode,
                sample_seconds=self.config.sample_seconds,
                open_timeout=self.settings.stream_open_timeout_seconds,
                read_timeout=self.settings.stream_read_timeout_seconds,
                options=self.reader_options,
            )
            errors_before = self.counters.decode_errors
            got_frames = False
            try:
                self._reader = reader
                for decoded in reader.frames():
                    if not got_frames:
                        got_frames, failures = True, 0
                        self.state = StreamState.LIVE
                        self._clock_base = None  # continue the clock from the last time
                    self.mode = reader.mode
                    self.counters.decode_errors = errors_before + reader.decode_errors
                    self._frame(decoded.frame, decoded.time)
                    if self.stop.is_set():
                        return StreamState.STOPPED
                self.counters.decode_errors = errors_before + reader.decode_errors
                if not got_frames:
                    self.last_error = "the stream ended without a decodable video frame"
                return StreamState.ENDED
            except StreamOpenError as exc:
                self.last_error = str(exc)
            except StreamStalledError as exc:
                self.last_error = str(exc)
                self.state = StreamState.STALLED
            self.counters.decode_errors = errors_before + reader.decode_errors
            failures = 0 if got_frames else failures + 1
            limit = self.settings.stream_max_retries
            if limit and failures >= limit:
                return StreamState.FAILED
            delay = min(
                MAX_BACKOFF_S, backoff_delay(failures + 1, self.settings.stream_backoff_seconds)
            )
            log.info("stream %s; reconnecting in %.1f s", self.last_error, delay)
            self.state = StreamState.RECONNECTING
            self.counters.reconnects += 1
            if self.stop.wait(delay):
                break
        return StreamState.STOPPED

    def _stream_seconds(self, pts: float | None) -> float:
        """Map the frame's timestamp to monotonic monitor stream time (module docstring)."""
        now = self.counters.stream_seconds
        if pts is None:
            pts = (self._last_pts or 0.0) + 1 / 30  # no timestamp: assume the next frame
        if self.first_frame_time is None:
            self.first_frame_time = pts
        jump = None if self._last_pts is None else pts - self._last_pts
        if self._clock_base is None or jump is None or not 0 <= jump <= MAX_FORWARD_JUMP_S:
            start = now if self.counters.frames_decoded == 0 else now + 1 / 30
            self._clock_base = (pts, start)
        self._last_pts = pts
        base_pts, base_seconds = self._clock_base
        return base_seconds + (pts - base_pts)

    def _frame(self, frame: object, pts: float | None) -> None:
        at = self._stream_seconds(pts)
        counters = self.counters
        counters.frames_decoded += 1
        counters.stream_seconds = at
        reason = self._sampler.offer(at, frame)  # type: ignore[arg-type]
        if reason is None:
            return
        counters.frames_sampled += 1
        counters.scene_samples += reason == "scene"
        pixels = frame.to_ndarray(format="rgb24", interpolation="AREA")  # type: ignore[attr-defined]
        pdq_hex, quality = hash_pixels(pixels)
        try:
            matches = self.match(Signal("pdq", pdq_hex, quality))
        except Exception as exc:
            self.last_error = f"matching failed: {describe(exc)}"
            log.warning("stream sample not matched: %s", self.last_error)
            matches = []
        counters.matched_samples += bool(matches)
        if matches and self._reader is not None:
            window = max(
                d.window for d in (self.config.decision, *self.config.bank_decisions.values())
            )
            self._reader.confirm(window * self.config.sample_seconds)
            self._sampler.confirm(at, window * self.config.sample_seconds)
        for alert in self._decider.add(at, matches):
            counters.alerts += 1
            try:
                self.on_alert(alert)
            except Exception:
                log.exception("recording a stream alert failed")


def with_decode(config: StreamConfig, decode: str) -> StreamConfig:
    """``config`` with another decode mode (benchmarks compare modes)."""
    return replace(config, decode=decode)
