"""Range-normalise 16-bit and float photos to 8 bits, for a PDQ query variant that can match.

The pinned recipe (decision 0002) converts every Pillow mode with ``convert("RGB")``, as the
PDQ reference tooling, python-threatexchange and HMA do, so a signal's own value stays
comparable with hashes other systems made. That conversion clips 16-bit (``I;16``, ``I``) and
float (``F``) pixels to 0-255: a 16-bit PNG of an ordinary photo (values up to 65535) turns
almost white, a float TIFF with values 0.0-1.0 almost black, and PDQ gives quality 0, so the
photo silently never matches. :func:`depth_normalise` maps such pixels to the 8-bit picture
they stand for; PDQ hashes it as the ``depth-normalised`` query variant (``signals.pdq``).

Rules, per Pillow mode (16-bit RGB(A) PNG and TIFF need none: Pillow itself decodes them to
8-bit ``RGB``/``RGBA`` by keeping the high byte):

- ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` (16-bit grey PNG, TIFF, PGM): ``value >> 8``, the
  high byte. It inverts the usual 8-to-16-bit scaling (``v * 257``) exactly, as libpng's
  ``png_set_strip_16`` and Pillow's own 16-bit RGB decoding do.
- ``I`` (32-bit integer grey, e.g. 32-bit TIFF, or 16-bit PNG in older Pillow): values within
  0-65535 are taken as 16-bit (``>> 8``); anything wider is min-max scaled to 0-255.
- ``F`` (32-bit float grey TIFF): values within 0.0-1.0 are scaled by 255 and rounded to the
  nearest integer (the usual convention for float images); anything else is min-max scaled
  to 0-255 (NaN and -inf count as the minimum, +inf as the maximum).

No variant (None) when the recipe's own clip is already exact (every value within 0-255, e.g.
8-bit data stored in a 16-bit file) or the picture is flat.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

#: Largest value of a 16-bit sample.
UINT16_MAX = 65535


def is_high_depth(mode: str) -> bool:
    """True for the Pillow modes whose conversion to RGB clips values (``I;16*``, ``I``, ``F``)."""
    return mode.startswith("I;16") or mode in ("I", "F")


def _min_max(values: npt.NDArray[np.floating], lo: float, hi: float) -> npt.NDArray[np.uint8]:
    scaled = (values.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    return _to_uint8(scaled)


def _to_uint8(values: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8]:
    """Round to the nearest integer (half to even) and clip to 0-255."""
    out: npt.NDArray[np.uint8] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out


def _integer(values: npt.NDArray[np.integer]) -> npt.NDArray[np.uint8] | None:
    lo, hi = int(values.min()), int(values.max())
    if lo == hi or (lo >= 0 and hi <= 255):
        return None  # flat, or the recipe's clip is exact
    if lo >= 0 and hi <= UINT16_MAX:
        return (values.astype(np.uint16, copy=False) >> 8).astype(np.uint8)
    return _min_max(values.astype(np.float64), lo, hi)


def _float(values: npt.NDArray[np.floating]) -> npt.NDArray[np.uint8] | None:
    finite = np.isfinite(values)
    if not finite.any():
        return None
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if lo == hi:
        return None  # flat
    if not finite.all():
        values = np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo)
    if lo >= 0.0 and hi <= 1.0:
        return _to_uint8(values * np.float32(255.0))
    if lo >= 0.0 and hi <= 255.0:
        return None  # already on the 8-bit scale: the recipe's clip is exact up to rounding
    return _min_max(values, lo, hi)


def depth_normalise(im: Image.Image) -> Image.Image | None:
    """The 8-bit picture a 16-bit or float image stands for (rules in the module docstring).

    Args:
        im: a loaded Pillow image of any mode; only :func:`is_high_depth` modes are handled.

    Returns:
        A mode ``L`` image of the same size, or None (not a high-depth mode, the recipe's own
        conversion is already exact, or the picture is flat).
    """
    if not is_high_depth(im.mode):
        return None
    values = np.asarray(im)
    if values.ndim != 2 or values.size == 0:
        return None
    out = _float(values) if im.mode == "F" else _integer(values)
    if out is None or int(out.min()) == int(out.max()):
        return None
    return Image.fromarray(out)
