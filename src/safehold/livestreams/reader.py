"""Read a live stream with PyAV (FFmpeg): decoded video frames with their stream time.

Decoding dominates the cost of watching a stream, so the reader decodes as little as the
sampling allows (``decode`` mode, ``docs/livestreams.md`` has the measurements):

* ``nonkey``: only keyframe packets are sent to the decoder (the rest are dropped unparsed),
  as FFmpeg's ``skip_frame=nokey`` but without even demuxing work for the decoder;
* ``nonref``: ``codec_context.skip_frame = "NONREF"``: frames no other frame refers to
  (B-frames) are skipped by the decoder (FFmpeg ``AVDISCARD_NONREF``);
* ``all``: every frame;
* ``auto`` (default): keyframes only (``nonkey``) while nothing matches and the last
  three keyframe gaps are at most :data:`IDLE_GAP_SAMPLES` sampling intervals (2 s at 1 fps:
  the usual live-encoder setting); as soon as a sample matches, the monitor calls
  :meth:`StreamReader.confirm` and reference frames are decoded (``nonref``) for the
  confirmation window, so the k-of-n decision gets its samples at the full rate. Streams
  with longer GOPs are decoded ``nonref`` throughout. Known material that starts on a scene
  cut (encoders put a keyframe there) is hashed on that keyframe; otherwise on the next
  keyframe, at most one GOP later. The mode changes only right after a keyframe (at a
  keyframe, or on ``confirm`` after a keyframe-only decode), where no reference is missing.

Each decoder runs single-threaded (``thread_count = 1``): a monitor runs many streams at once,
so parallelism comes from streams, and frame threads would only add latency and memory.

Errors: :class:`StreamOpenError` (cannot open: refused, unreachable, not a stream, timed
out), :class:`StreamStalledError` (no data for ``read_timeout`` seconds, or the connection
broke). The end of the stream ends the iteration. A packet the decoder refuses (garbage
bytes) is counted in ``decode_errors`` and skipped; :data:`MAX_BAD_PACKETS_IN_A_ROW` refused
packets in a row end the connection as broken (a reconnect may recover).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import av
import av.error

log = logging.getLogger(__name__)

DECODE_MODES = ("auto", "all", "nonref", "nonkey")
#: Packets refused in a row before the connection is treated as broken.
MAX_BAD_PACKETS_IN_A_ROW = 50
#: Keyframe gaps ``auto`` looks at.
KEYFRAME_GAPS = 3
#: ``auto`` idles on keyframes when they come at least every this many sampling intervals.
IDLE_GAP_SAMPLES = 2.0


class StreamOpenError(Exception):
    """The stream could not be opened (message without the URL's path or query)."""


class StreamStalledError(Exception):
    """The stream stopped delivering data (timeout) or its connection broke."""


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A decoded video frame: ``time`` in seconds by the stream's clock (may be None when the
    stream gives no timestamp), ``keyframe`` whether it was a keyframe."""

    frame: av.VideoFrame
    time: float | None
    keyframe: bool


class StreamReader:
    """One connection to a stream; iterate :meth:`frames` once.

    Args:
        source: URL (or, for benchmarks and tests, a local path with ``whitelist="file"``).
        whitelist: FFmpeg ``protocol_whitelist`` (see :mod:`safehold.livestreams.policy`).
        decode: one of :data:`DECODE_MODES`.
        sample_seconds: the sampling interval ``auto`` compares keyframe gaps with.
        open_timeout: seconds to open the stream (PyAV's interrupt callback).
        read_timeout: seconds without data before :class:`StreamStalledError`.
        options: extra FFmpeg format options (e.g. ``{"re": ...}`` is not one; tests pass
            demuxer options such as ``live_start_index``).

    Attributes:
        decode_errors: packets the decoder refused.
        mode: the decode mode in effect (``nonkey``/``nonref``/``all``).
    """

    def __init__(
        self,
        source: str,
        *,
        whitelist: str,
        decode: str = "auto",
        sample_seconds: float = 1.0,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
        options: dict[str, str] | None = None,
    ) -> None:
        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {', '.join(DECODE_MODES)}")
        self.source = source
        self.whitelist = whitelist
        self.decode = decode
        self.sample_seconds = sample_seconds
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.options = dict(options or {})
        self.decode_errors = 0
        self.mode = "nonref" if decode == "auto" else decode
        self._gaps: deque[float] = deque(maxlen=KEYFRAME_GAPS)
        self._confirm_until = float("-inf")
        self._resume: av.Packet | None = None  # type: ignore[type-arg]
        self._drop: int | None = None
        self._now = 0.0  # stream time of the last packet (s)
        self._last_key: float | None = None

    def _open(self) -> av.container.InputContainer:
        options = {
            "protocol_whitelist": self.whitelist,
            "rw_timeout": str(int(self.read_timeout * 1_000_000)),
            **self.options,
        }
        try:
            return av.open(
                self.source,
                mode="r",
                options=options,
                timeout=(self.open_timeout, self.read_timeout),
            )
        except av.error.ExitError:
            raise StreamOpenError(f"no answer within {self.open_timeout:g} s") from None
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise StreamOpenError(f"cannot open the stream: {describe(exc)}") from None

    def frames(self) -> Iterator[DecodedFrame]:
        """Decoded frames in order until the stream ends.

        Raises:
            StreamOpenError: the stream did not open, or has no video.
            StreamStalledError: no data for ``read_timeout`` s, or the connection broke.
        """
        container = self._open()
        try:
            if not container.streams.video:
                raise StreamOpenError("the stream has no video")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            ctx.thread_count = 1
            ctx.thread_type = "SLICE"
            yield from self._decode(container, stream)
        finally:
            container.close()

    def _decode(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> Iterator[DecodedFrame]:
        ctx = stream.codec_context
        packets = container.demux(stream)
        bad_in_a_row = 0
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.error.EOFError):
                return
            except av.error.ExitError:
                raise StreamStalledError(f"no data for {self.read_timeout:g} s") from None
            except (av.error.FFmpegError, OSError) as exc:
                raise StreamStalledError(f"the stream broke: {describe(exc)}") from None
            if packet.size == 0:
                continue  # a flush packet at the end of the stream
            key = bool(packet.is_keyframe)
            if packet.pts is not None and packet.time_base is not None:
                self._now = float(packet.pts * packet.time_base)
            if key:
                self._keyframe_at(packet)
            if self.mode == "nonkey" and not key:
                continue
            ctx.skip_frame = "NONREF" if self.mode == "nonref" else "DEFAULT"
            try:
                decoded = self._send(ctx, packet, key)
            except av.error.EOFError:
                return
            except (av.error.FFmpegError, ValueError) as exc:
                self.decode_errors += 1
                bad_in_a_row += 1
                if bad_in_a_row == 1:
                    log.debug("undecodable packet skipped: %s", describe(exc))
                if bad_in_a_row >= MAX_BAD_PACKETS_IN_A_ROW:
                    raise StreamStalledError(
                        f"{MAX_BAD_PACKETS_IN_A_ROW} undecodable packets in a row"
                    ) from None
                continue
            bad_in_a_row = 0
            for frame, at in decoded:
                yield DecodedFrame(frame, at, key or bool(frame.key_frame))

    def _send(
        self,
        ctx: av.video.codeccontext.VideoCodecContext,
        packet: av.Packet,  # type: ignore[type-arg]
        key: bool,
    ) -> list[tuple[av.VideoFrame, float | None]]:
        """Decode one packet; return ``(frame, stream time)`` pairs.

        Keyframe-only decoding drains the decoder after each keyframe (a decoder with B-frame
        reordering would otherwise hold the frame back until later keyframes arrive: seconds
        of latency) and resets it; drained frames carry no timestamp, so they get the
        packet's. When reference decoding resumes after such a keyframe, the keyframe is fed
        again first (its duplicate frame dropped) so the frames after it have their reference.
        """
        out: list[tuple[av.VideoFrame, float | None]] = []
        if self.mode != "nonkey" and self._resume is not None:
            again, self._resume = self._resume, None
            self._drop = again.pts
            ctx.decode(again)  # its frame (if out yet) is the one already hashed
        frames = ctx.decode(packet)
        if self.mode == "nonkey" and key:
            at = None if packet.pts is None else float(packet.pts * packet.time_base)
            frames = [*frames, *ctx.decode(None)]
            ctx.flush_buffers()
            self._resume = packet
            return [(f, at) for f in frames]
        for frame in frames:
            if self._drop is not None and frame.pts == self._drop:
                self._drop = None
                continue
            out.append((frame, frame.time))
        return out

    def confirm(self, seconds: float) -> None:
        """Decode reference frames for the next ``seconds`` of stream time (``auto``: a
        sample matched; the k-of-n decision needs its next samples at the full rate)."""
        self._confirm_until = self._now + seconds
        if self.decode == "auto" and self.mode == "nonkey":
            self.mode = "nonref"  # called right after a keyframe-only decode: safe

    def _keyframe_at(self, packet: av.Packet) -> None:  # type: ignore[type-arg]
        """Track keyframe gaps and, in ``auto``, choose ``nonkey`` or ``nonref``."""
        if packet.pts is None or packet.time_base is None:
            return
        at = float(packet.pts * packet.time_base)
        if self._last_key is not None and at > self._last_key:
            self._gaps.append(at - self._last_key)
        self._last_key = at
        if self.decode == "auto":
            short = len(self._gaps) == KEYFRAME_GAPS and max(self._gaps) <= (
                IDLE_GAP_SAMPLES * self.sample_seconds * 1.05
            )
            self.mode = "nonkey" if short and at >= self._confirm_until else "nonref"


def describe(exc: BaseException) -> str:
    """A short reason without the file name or URL PyAV adds to its messages."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)[:200]
    return (str(exc).strip() or type(exc).__name__)[:200]
