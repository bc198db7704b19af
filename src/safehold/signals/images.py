"""Decode a photo into the RGB pixels PDQ hashes: the pinned preprocessing recipe.

Every step is fixed so that two Safehold installations, and the PDQ reference on the same
pixels, agree (``docs/decisions/0002-pdq-preprocessing-recipe.md``):

1. Open lazily with Pillow, restricted to the sniffed format (pillow-heif registered for HEIC);
   check the header's pixel count against ``max_image_pixels`` *before* decoding (Pillow's
   own, fixed decompression-bomb limit is lifted meanwhile, so the error always states
   Safehold's bound and a bound above Pillow's is honoured). PNG chunk CRCs are verified first
   (:mod:`safehold.signals.pngcheck`).
2. First frame only (animated GIF/WebP/APNG, multi-page TIFF, HEIF sequences).
3. JPEG only, when a pre-shrink will follow: ``Image.draft`` lets libjpeg decode at 1/2, 1/4 or
   1/8 scale in the DCT domain, never below the pre-shrink size.
4. Any mode to RGB with Pillow's ``convert("RGB")``; alpha is dropped, not composited (the
   colour channels are used as stored), as the PDQ reference values, python-threatexchange and
   HMA do. 16-bit and float modes are clipped to 0-255 by Pillow; for them the range-
   normalised 8-bit picture is also kept (``DecodedImage.depth_normalised``,
   :mod:`safehold.signals.depth`) for a query variant.
5. EXIF orientation applied (tag 0x0112, the transposes of ``ImageOps.exif_transpose``).
6. Pre-shrink (``pdq_input``): see :func:`phase_aligned_resize`.

A truncated or corrupt file is an error (never a grey half): Pillow's ``LOAD_TRUNCATED_IMAGES``
is forced off while decoding (like ``MAX_IMAGE_PIXELS``, a process-wide Pillow setting:
restored afterwards, so decode in processes, not threads that want other values), and every
decoder exception maps to the ``ContentError`` family.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import IO

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from safehold.errors import ContentTooLargeError, CorruptContentError, UnsupportedContentError
from safehold.signals.base import Content
from safehold.signals.depth import depth_normalise
from safehold.signals.pngcheck import check_png_crcs

pillow_heif.register_heif_opener()
Image.init()  # load every Pillow plug-in now, not lazily on a worker's first odd file

#: Pillow plug-ins allowed for each sniffed format (``signals.content``); None = Pillow decides.
PILLOW_FORMATS: dict[str, list[str]] = {
    "JPEG": ["JPEG"],  # multi-picture (MPO) files open through the JPEG plug-in
    "PNG": ["PNG"],
    "GIF": ["GIF"],
    "WEBP": ["WEBP"],
    "BMP": ["BMP", "DIB"],
    "TIFF": ["TIFF"],
    "JPEG2000": ["JPEG2000"],
    "HEIF": ["HEIF", "AVIF"],
    "AVIF": ["AVIF", "HEIF"],
}

#: EXIF orientation (TIFF/EXIF tag 0x0112) -> the transpose that displays the image upright
#: (EXIF 2.32, section 4.6.4 A; the same table as ``PIL.ImageOps.exif_transpose``).
ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: Pillow exceptions raised for bad data (besides ``OSError``).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An upright RGB photo, possibly reduced by JPEG draft decoding.

    Attributes:
        rgb: mode ``RGB`` image, upright (EXIF orientation applied).
        full_size: ``(width, height)`` of the full-resolution upright image that ``rgb``
            stands for; equal to ``rgb.size`` unless draft decoding reduced it.
        depth_normalised: for a 16-bit or float photo, the mode ``RGB`` upright picture its
            values stand for (:func:`safehold.signals.depth.depth_normalise`), else None.
    """

    rgb: Image.Image
    full_size: tuple[int, int]
    depth_normalised: Image.Image | None = None


def _open_stream(content: Content) -> IO[bytes]:
    return io.BytesIO(content._data) if content._data is not None else content.path.open("rb")


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1-8; 1 when absent or unreadable (bad metadata is not a bad image)."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # corrupt EXIF blocks must not fail the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def preshrink_size(size: tuple[int, int], preshrink: int) -> tuple[int, int]:
    """Size with the longest side reduced to ``preshrink`` (aspect kept), or ``size`` unchanged.

    ``preshrink`` 0 (or a longest side already <= ``preshrink``) keeps the full size.
    """
    width, height = size
    longest = max(width, height)
    if preshrink <= 0 or longest <= preshrink:
        return size
    scale = preshrink / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_image(content: Content, *, max_pixels: int, preshrink: int) -> DecodedImage:
    """Decode ``content``'s first frame to an upright RGB image (steps 1-5 of the recipe).

    Args:
        content: a photo (``content.format_name`` restricts the Pillow plug-in used).
        max_pixels: decompression-bomb bound on width x height, checked before decoding.
        preshrink: pre-shrink size the caller will use; lets JPEG decode at reduced scale.

    Raises:
        ContentTooLargeError: more than ``max_pixels`` pixels (the message states that bound).
        CorruptContentError: the file cannot be identified or decoded, or is truncated.
        UnsupportedContentError: the decoder for this format is not available.
    """
    formats = PILLOW_FORMATS.get(content.format_name or "")
    kind = content.format_name or "image"
    previous = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey half
    Image.MAX_IMAGE_PIXELS = None  # our bound (checked on the header, below) replaces Pillow's
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel bound; Pillow's warning band (89-179 Mpx) is noise here,
            # as is its note on palette transparency (alpha is dropped by design).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with _open_stream(content) as stream:
                if content.format_name == "PNG":
                    check_png_crcs(stream)  # Pillow does not check IDAT CRCs
                    stream.seek(0)
                with Image.open(stream, formats=formats) as im:
                    return _prepare(im, kind, max_pixels, preshrink)
    except Image.DecompressionBombError as exc:  # a plug-in that checks on its own
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({found.group(1)} pixels)" if found else ""
        raise ContentTooLargeError(
            f"{kind} image{size} is over the bound of {max_pixels} pixels"
        ) from None
    except UnidentifiedImageError:
        raise CorruptContentError(f"not a decodable {kind} image (bad or unknown header)") from None
    except (ContentTooLargeError, CorruptContentError, UnsupportedContentError):
        raise
    except MemoryError:
        raise
    except _DECODE_ERRORS as exc:
        raise CorruptContentError(f"corrupt {kind} image: {_describe(exc)}") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = previous


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _prepare(im: Image.Image, kind: str, max_pixels: int, preshrink: int) -> DecodedImage:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise CorruptContentError(f"{kind} image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ContentTooLargeError(
            f"{kind} image is {width}x{height} = {width * height} pixels, "
            f"over the bound of {max_pixels}"
        )
    orientation = _orientation(im)
    transposed = orientation >= 5
    full_size = (height, width) if transposed else (width, height)
    target = preshrink_size(full_size, preshrink)
    if target != full_size and im.format in ("JPEG", "MPO"):
        im.draft("RGB", (target[1], target[0]) if transposed else target)
    im.load()
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    normalised = depth_normalise(im)
    if normalised is not None:
        normalised = normalised.convert("RGB")
    if orientation in ORIENTATION_TRANSPOSE:
        rgb = rgb.transpose(ORIENTATION_TRANSPOSE[orientation])
        if normalised is not None:
            normalised = normalised.transpose(ORIENTATION_TRANSPOSE[orientation])
    return DecodedImage(rgb, full_size, normalised)


@lru_cache(maxsize=4096)
def _pdq_sample_offset(length: int) -> float:
    """Mean offset (pixels) of PDQ's 64 samples along an axis of ``length`` pixels.

    PDQ (ThreatExchange ``pdq/cpp/downscaling/downscaling.cpp``) blurs with two passes of a
    box filter of ``ceil(length / 128)`` pixels and point-samples pixel
    ``floor((k + 0.5) * length / 64)``. An even window is centred half a pixel to the right
    of its output pixel, so each pass shifts by +0.5; the floor shifts by up to a pixel. The
    offset is relative to the ideal sample centre ``(k + 0.5) * length / 64``.
    """
    window = (length + 127) // 128
    half = (window + 2) // 2
    shift = 2 * ((2 * half - window - 1) / 2)  # two passes
    k = np.arange(64)
    ideal = (k + 0.5) * length / 64
    return float(np.mean(np.floor(ideal) + 0.5 + shift - ideal))


def phase_aligned_resize(image: DecodedImage, size: tuple[int, int]) -> Image.Image:
    """Resize ``image.rgb`` to ``size`` so that PDQ samples the scene where it would at full size.

    PDQ's own downscale (see :func:`_pdq_sample_offset`) samples each axis with a small offset
    that depends on the image size, so a naive resize moves every sample by up to ~1.5 pixels
    of the small image and flips 8-14 bits of 256 (measured on the reference set). Shifting
    the resize grid by the difference of the two offsets (Pillow's ``box``, on an edge-padded
    copy) removes most of it: at 512 px the reference set stays within 4 bits.

    Args:
        image: the decoded image; ``full_size`` gives the full-resolution geometry.
        size: target ``(width, height)``.

    Returns:
        A mode ``RGB`` image of exactly ``size`` (bilinear resampling, Pillow's antialiased
        filter, measured closest to the reference with box, Hamming and Lanczos).
    """
    src = image.rgb
    shifts = []
    for axis in (0, 1):
        full, small, have = image.full_size[axis], size[axis], src.size[axis]
        delta = _pdq_sample_offset(full) / full - _pdq_sample_offset(small) / small
        shifts.append(delta * have)
    pad = int(np.ceil(max(abs(shifts[0]), abs(shifts[1])))) + 1
    arr = np.asarray(src)
    padded = Image.fromarray(np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
    x0, y0 = pad + shifts[0], pad + shifts[1]
    box = (x0, y0, x0 + src.size[0], y0 + src.size[1])
    return padded.resize(size, Image.Resampling.BILINEAR, box=box)


def pdq_input(image: DecodedImage, preshrink: int) -> npt.NDArray[np.uint8]:
    """Return the ``(height, width, 3)`` ``uint8`` array PDQ hashes (step 6 of the recipe).

    Photos whose longest side is at most ``preshrink`` (or any photo when ``preshrink`` is 0)
    are hashed at full size, bit-exact with the PDQ reference; larger ones are reduced to a
    longest side of ``preshrink`` with :func:`phase_aligned_resize`.
    """
    target = preshrink_size(image.full_size, preshrink)
    rgb = image.rgb
    if rgb.size != target or target != image.full_size:
        rgb = phase_aligned_resize(image, target)
    return np.asarray(rgb)


#: A row or column is a letterbox bar when no channel of any of its pixels exceeds this
#: (0-255). 24 is the default ``limit`` of FFmpeg's ``cropdetect`` filter; it absorbs JPEG
#: ringing at the bar's edge (``letterboxed_sample-b.jpg`` needs > 16).
LETTERBOX_BLACK_LIMIT = 24


def unletterbox(image: DecodedImage, limit: int = LETTERBOX_BLACK_LIMIT) -> DecodedImage | None:
    """Crop uniform dark bars (rows/columns with every channel <= ``limit``) off each side.

    After python-threatexchange ``content_type/preprocess/unletterboxing.py`` (which uses a
    limit of 0), vectorised. Returns None when there are no bars or the whole image is dark.
    """
    arr = np.asarray(image.rgb)
    rows = np.flatnonzero(arr.max(axis=(1, 2)) > limit)
    cols = np.flatnonzero(arr.max(axis=(0, 2)) > limit)
    if rows.size == 0 or cols.size == 0:
        return None
    height, width = arr.shape[:2]
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    if (left, top, right, bottom) == (0, 0, width, height):
        return None
    sx, sy = image.full_size[0] / width, image.full_size[1] / height
    full = (max(1, round((right - left) * sx)), max(1, round((bottom - top) * sy)))
    return DecodedImage(image.rgb.crop((left, top, right, bottom)), full)
