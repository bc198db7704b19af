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
) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def sample_frames(
    content: Content, *, seconds_per_frame: float, max_seconds: float, max_pixels: int
) -> Iterator[SampledFrame]:
    """Yield the frames of ``content`` that vPDQ hashes, in order.

    Args:
        content: a video file.
        seconds_per_frame: sampling interval (1.0 = one frame per second; tiny = every frame).
        max_seconds: longest video accepted (declared duration and decoded frames).
        max_pixels: largest frame (width x height) accepted.

    Raises:
        UnsupportedContentError: the file has no video stream, or no decoder for its codec.
        ContentTooLargeError: frames over ``max_pixels`` or video over ``max_seconds``.
        CorruptContentError: the container or stream cannot be read or decoded.
        EmptyContentError: no frame could be decoded.
    """
    kind = content.format_name or "video"
    source: str | io.BytesIO = (
        io.BytesIO(content._data) if content._data is not None else str(content.path)
    )
    count = 0
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise UnsupportedContentError(f"{kind} file has no video stream")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            width, height = ctx.width, ctx.height
            if width <= 0 or height <= 0:
                raise CorruptContentError(f"{kind} video stream has no frame size")
            if width * height > max_pixels:
                raise ContentTooLargeError(
                    f"{kind} frames are {width}x{height} pixels, over the bound of {max_pixels}"
                )
            fps = _frame_rate(stream)
            declared = _declared_seconds(container, stream)
            if declared > max_seconds:
                raise ContentTooLargeError(
                    f"{kind} lasts {declared:.0f} s, over the bound of {max_seconds:.0f} s"
                )
            frame_mod = max(1, int(seconds_per_frame * fps))
            max_frames = math.floor(max_seconds * fps) + 1
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if count >= max_frames:
                    raise ContentTooLargeError(f"{kind} runs past the bound of {max_seconds:.0f} s")
                if count % frame_mod == 0:
                    pixels = frame.to_ndarray(format="rgb24", interpolation="AREA")
                    yield SampledFrame(count, count / fps, pixels.astype(np.uint8, copy=False))
                count += 1
    except (UnsupportedContentError, ContentTooLargeError, CorruptContentError):
        raise
    except av.error.EOFError:
        pass  # the decoder reports the end of the stream (seen with empty Matroska files)
    except av.error.DecoderNotFoundError:
        raise UnsupportedContentError(f"no decoder for this {kind} video's codec") from None
    except av.error.FFmpegError as exc:
        raise CorruptContentError(f"corrupt {kind} video: {_describe(exc)}") from None
    except (ValueError, IndexError, EOFError) as exc:
        raise CorruptContentError(f"corrupt {kind} video: {_describe(exc)}") from None
    if count == 0:
        raise EmptyContentError(f"{kind} video has no decodable frames")


def _describe(exc: BaseException) -> str:
    """Short reason without the file path PyAV puts in its messages."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)[:200]
    return (str(exc).strip() or type(exc).__name__)[:200]
