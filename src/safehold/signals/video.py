"""Decode a video with PyAV and pick the frames vPDQ hashes, as the vPDQ reference does.

Follows ThreatExchange ``vpdq/cpp/hashing/filehasher.cpp`` and ``ffmpegwrapper.cpp``
(decision 0003):

- the first video stream; frame rate = ``avg_frame_rate``, else ``r_frame_rate``;
- every frame is decoded and counted from 0 in decoding output order;
- frame ``n`` is kept when ``n % frame_mod == 0`` with
  ``frame_mod = max(1, int(seconds_per_frame * fps))`` (truncated, as the reference's
  ``static_cast<int>``);
- kept frames are converted to RGB24 at their native size with swscale's area filter
  (``SWS_AREA``, the reference's ``DOWNSAMPLE_METHOD``); timestamp = ``n / fps`` seconds.

Container rotation metadata is ignored, as in the reference. Bounds are checked before
decoding (pixels per frame, declared duration) and again while decoding (frame count / fps).

A damaged or truncated file keeps what can be decoded: packets the decoder refuses are skipped
(as the ``ffmpeg`` command line does), and a container that stops being readable ends the
stream. :class:`FrameSampler` then says so in ``partial`` (also when the frames stop more than
:data:`TRUNCATION_TOLERANCE_SECONDS` before the declared duration, the usual symptom of a file
cut short: FFmpeg's threaded decoders report nothing). Only a file with no decodable frame is
an error.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np
import numpy.typing as npt

from safehold.errors import (
    ContentTooLargeError,
    CorruptContentError,
    EmptyContentError,
    UnsupportedContentError,
)
from safehold.signals.base import Content
from safehold.signals.isobmff import content_cut_short

#: A video "ends early" when its decoded frames stop more than this many seconds (or two
#: frame intervals, whichever is longer) before the video stream's declared duration.
TRUNCATION_TOLERANCE_SECONDS = 1.0

#: Undecodable packets skipped before the rest of the stream is given up on.
MAX_BAD_PACKETS = 100


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One frame picked for hashing.

    Attributes:
        number: 0-based index of the frame among all decoded frames.
        timestamp: ``number / fps`` in seconds.
        pixels: ``(height, width, 3)`` ``uint8`` RGB.
    """

    number: int
    timestamp: float
    pixels: npt.NDArray[np.uint8]


def _frame_rate(stream: av.video.stream.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if isinstance(rate, Fraction | int | float) and rate > 0:
            return float(rate)
    raise CorruptContentError("the video stream has no frame rate")


def _declared_seconds(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[float, bool]:
    """``(duration in seconds, reliable)``: the video stream's own duration is reliable; the
    container's is only when the video is its single stream (else audio may outlast it)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base), True
    if container.duration is not None:
        return container.duration / av.time_base, len(container.streams) == 1
    return 0.0, False


class FrameSampler:
    """The frames of ``content`` that vPDQ hashes, and what was missing from them.

    Iterate once; afterwards ``partial`` is None for a whole file, else a one-line account
    of what could not be decoded (``"video data ends early: decoded 8.6 s of 20.5 s; hashed
    the decodable part"``).

    Args:
        content: a video file.
        seconds_per_frame: sampling interval (1.0 = one frame per second; tiny = every frame).
        max_seconds: longest video accepted (declared duration and decoded frames).
        max_pixels: largest frame (width x height) accepted.

    Attributes:
        declared_seconds: duration the file declares (0.0 when it declares none).
        decoded_seconds: end of the last decoded frame, seconds from the stream's start.
        bad_packets: packets the decoder refused (skipped).
        partial: None, or why the signal covers only part of the video.

    Raises (while iterating):
        UnsupportedContentError: the file has no video stream, or no decoder for its codec.
        ContentTooLargeError: frames over ``max_pixels`` or video over ``max_seconds``.
        CorruptContentError: the container cannot be opened, or no frame decodes because the
            data is damaged.
        EmptyContentError: the stream holds no frame at all.
    """

    def __init__(
        self, content: Content, *, seconds_per_frame: float, max_seconds: float, max_pixels: int
    ) -> None:
        self.content = content
        self.seconds_per_frame = seconds_per_frame
        self.max_seconds = max_seconds
        self.max_pixels = max_pixels
        self.declared_seconds = 0.0
        self.decoded_seconds = 0.0
        self.bad_packets = 0
        self.partial: str | None = None
        self._reliable = False
        self._fps = 0.0
        self._stopped: str | None = None
        self._first_bad = ""

    def __iter__(self) -> Iterator[SampledFrame]:
        kind = self.content.format_name or "video"
        content = self.content
        source: str | io.BytesIO = (
            io.BytesIO(content._data) if content._data is not None else str(content.path)
        )
        count = 0
        try:
            with av.open(source, mode="r") as container:
                stream = self._open_stream(container, kind)
                frame_mod = max(1, int(self.seconds_per_frame * self._fps))
                max_frames = math.floor(self.max_seconds * self._fps) + 1
                start = _start_seconds(stream)
                for frame in self._decode(container, stream):
                    if count >= max_frames:
                        raise ContentTooLargeError(
                            f"{kind} runs past the bound of {self.max_seconds:.0f} s"
                        )
                    if count % frame_mod == 0:
                        pixels = frame.to_ndarray(format="rgb24", interpolation="AREA")
                        yield SampledFrame(
                            count, count / self._fps, pixels.astype(np.uint8, copy=False)
                        )
                    shown = frame.time - start if frame.time is not None else count / self._fps
                    self.decoded_seconds = max(self.decoded_seconds, shown + 1 / self._fps)
                    count += 1
        except ContentTooLargeError:
            raise
        except (UnsupportedContentError, CorruptContentError):
            self._check_cut_short(kind, count)
            raise
        except av.error.EOFError:
            pass  # FFmpeg's end of data before any stream (seen with empty Matroska files)
        except av.error.DecoderNotFoundError:
            raise UnsupportedContentError(f"no decoder for this {kind} video's codec") from None
        except (av.error.FFmpegError, ValueError, IndexError, EOFError) as exc:
            self._check_cut_short(kind, count)
            raise CorruptContentError(f"corrupt {kind} video: {_describe(exc)}") from None
        if count == 0:
            self._check_cut_short(kind, count)
            if self._stopped is not None or self.bad_packets:
                reason = self._first_bad or self._stopped
                raise CorruptContentError(f"corrupt {kind} video: {reason}")
            raise EmptyContentError(f"{kind} video has no decodable frames")
        self._conclude()

    def _check_cut_short(self, kind: str, count: int) -> None:
        """Before reporting a file with no frame as broken, say if it is an MP4/MOV cut short.

        Raises:
            CorruptContentError: ``"corrupt MP4 video: the file is cut short: it ends inside
                its 'mdat' box, ..."``.
        """
        reason = None if count else content_cut_short(self.content)
        if reason is not None:
            raise CorruptContentError(f"corrupt {kind} video: the file is cut short: {reason}")

    def _open_stream(
        self, container: av.container.InputContainer, kind: str
    ) -> av.video.stream.VideoStream:
        """The first video stream, after the checks that need no decoding."""
        if not container.streams.video:
            only = ", only audio" if container.streams.audio else ""
            raise UnsupportedContentError(
                f"{kind} file has no video stream{only}: nothing for vpdq to hash"
            )
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        if width <= 0 or height <= 0:
            raise CorruptContentError(f"{kind} video stream has no frame size")
        if width * height > self.max_pixels:
            raise ContentTooLargeError(
                f"{kind} frames are {width}x{height} pixels, over the bound of {self.max_pixels}"
            )
        self._fps = _frame_rate(stream)
        self.declared_seconds, self._reliable = _declared_seconds(container, stream)
        if self.declared_seconds > self.max_seconds:
            raise ContentTooLargeError(
                f"{kind} lasts {self.declared_seconds:.0f} s, "
                f"over the bound of {self.max_seconds:.0f} s"
            )
        stream.thread_type = "AUTO"
        return stream

    def _decode(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> Iterator[av.VideoFrame]:
        """Decoded frames in output order; damaged packets are skipped and counted.

        A read error of the container ends the stream (``_stopped`` says why);
        ``av.error.EOFError`` ends it quietly (FFmpeg's end of stream, seen with empty
        Matroska files).
        """
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except (StopIteration, av.error.EOFError):
                return
            except av.error.DecoderNotFoundError:
                raise
            except av.error.FFmpegError as exc:
                self._stopped = _describe(exc)
                return
            try:
                frames = packet.decode()
            except av.error.EOFError:
                return
            except av.error.DecoderNotFoundError:
                raise
            except av.error.FFmpegError as exc:
                self.bad_packets += 1
                self._first_bad = self._first_bad or _describe(exc)
                if self.bad_packets >= MAX_BAD_PACKETS:
                    self._stopped = f"gave up after {MAX_BAD_PACKETS} undecodable packets"
                    return
                continue
            yield from frames

    def _conclude(self) -> None:
        """Set ``partial`` from the decoding problems met and the duration check."""
        parts: list[str] = []
        tolerance = max(TRUNCATION_TOLERANCE_SECONDS, 2 / self._fps)
        if self._reliable and self.declared_seconds - self.decoded_seconds > tolerance:
            parts.append(
                f"ends early: decoded {self.decoded_seconds:.1f} s of {self.declared_seconds:.1f} s"
            )
        elif self._stopped is not None:
            parts.append(f"is unreadable after {self.decoded_seconds:.1f} s ({self._stopped})")
        if self.bad_packets:
            plural = "s" if self.bad_packets > 1 else ""
            parts.append(f"has {self.bad_packets} undecodable packet{plural} ({self._first_bad})")
        if parts:
            self.partial = f"video data {'; '.join(parts)}; hashed the decodable part"


def _start_seconds(stream: av.video.stream.VideoStream) -> float:
    """Presentation time of the stream's first frame (0.0 when not declared)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def sample_frames(
    content: Content, *, seconds_per_frame: float, max_seconds: float, max_pixels: int
) -> Iterator[SampledFrame]:
    """Yield the frames of ``content`` that vPDQ hashes, in order (see :class:`FrameSampler`,
    which also reports a partly decodable file; this function does not)."""
    return iter(
        FrameSampler(
            content,
            seconds_per_frame=seconds_per_frame,
            max_seconds=max_seconds,
            max_pixels=max_pixels,
        )
    )


def _describe(exc: BaseException) -> str:
    """Short reason without the file path PyAV puts in its messages."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)[:200]
    return (str(exc).strip() or type(exc).__name__)[:200]
