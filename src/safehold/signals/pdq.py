"""The ``pdq`` signal type: Meta's PDQ perceptual photo hash (256 bits) with quality 0-100.

Hashing uses ``pdqhash`` (Cython bindings of the C++ reference, ThreatExchange ``pdq/cpp``) on
pixels prepared by :mod:`safehold.signals.images` (the pinned recipe, decision 0002). The hex
form is the one python-threatexchange, HMA and NCMEC exchange: 64 lower-case hex digits, bit 0
of the reference's hash vector is the most significant bit of the first byte
(``np.packbits(vector).tobytes().hex()``).

Matching is exact radius search over Hamming distance with :class:`safehold.index.BinaryIndex`
(multi-index hashing; a signal and its variants go through one ``search_any_batch`` call).
A signal of quality below the index's ``min_quality`` (default 50, the PDQ authors' cut-off and
``Settings.pdq_min_quality``) never matches: a flat or tiny image hashes to noise.

Query-side variants (never stored in banks):

- ``dihedral``: the 7 other rotations/flips, computed in one pass by the reference's
  ``pdqDihedralHash256esFromFloatLuma``, named :data:`DIHEDRAL_NAMES`.
- ``unletterbox``: the hash of the photo with dark bars cropped (:func:`images.unletterbox`),
  named ``unletterboxed``.
- always, for a 16-bit or float photo: the hash of its range-normalised 8-bit picture
  (:mod:`safehold.signals.depth`), named ``depth-normalised``. The signal's own value stays
  the reference recipe's (Pillow clips such pixels to 0-255, often to quality 0), so it
  compares with hashes other systems made; the variant is what lets the photo match a bank
  hash made from an 8-bit copy. No dihedral or unletterboxed variants are made of it.

``unletterboxed`` and ``depth-normalised`` are hashed from other pixels than the signal's own
value, so each is kept only when its own quality reaches ``HashOptions.min_variant_quality``
(default 50) and carries that quality in ``Signal.variant_qualities``; the index gates every
query on its own quality (``SignalType.matchable_queries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pdqhash

from safehold.index.binary import BinaryIndex
from safehold.index.flat import hex_to_rows
from safehold.signals.base import (
    SIGNAL_TYPES,
    Content,
    ContentType,
    IndexHit,
    Signal,
    SignalIndex,
    SignalType,
    canonical_hex,
)
from safehold.signals.images import DecodedImage, decode_image, pdq_input, unletterbox

HASH_BITS = 256
HEX_LENGTH = HASH_BITS // 4

#: Names of ``pdqhash.compute_dihedral``'s hashes 2-8, in its order (the reference's
#: rotate 90/180/270 clockwise, flip left-right, flip top-bottom, transpose, anti-transpose).
DIHEDRAL_NAMES = ("rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
UNLETTERBOXED = "unletterboxed"
DEPTH_NORMALISED = "depth-normalised"

#: Quality below which PDQ signals are not matched (``Settings.pdq_min_quality`` default).
DEFAULT_MIN_QUALITY = 50


def vector_to_hex(vector: npt.ArrayLike) -> str:
    """Hex form of a 256-element 0/1 PDQ hash vector (element 0 = most significant bit)."""
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


def hash_pixels(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ of an ``(height, width, 3)`` ``uint8`` RGB array: ``(hex, quality 0-100)``.

    Luma is ``0.299 R + 0.587 G + 0.114 B`` (the reference's ``fillFloatLumaFromRGB``).
    """
    vector, quality = pdqhash.compute(pixels)
    return vector_to_hex(vector), int(quality)


def hash_pixels_dihedral(pixels: npt.NDArray[np.uint8]) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes of ``pixels``: original first, then :data:`DIHEDRAL_NAMES`."""
    vectors, quality = pdqhash.compute_dihedral(pixels)
    return [vector_to_hex(v) for v in vectors], int(quality)


class PdqIndex(SignalIndex):
    """Exact Hamming-radius search over PDQ bank entries (a :class:`BinaryIndex`).

    Args:
        entries: validated ``(entry_id, hex)`` pairs.
        min_quality: queries whose quality is below this are never matched (None quality,
            e.g. a hash typed in by hand, is matched).
    """

    def __init__(
        self, entries: Sequence[tuple[int, str]], *, min_quality: int = DEFAULT_MIN_QUALITY
    ) -> None:
        ids = np.asarray([entry_id for entry_id, _ in entries], dtype=np.int64)
        rows = hex_to_rows([value for _, value in entries])
        self.min_quality = min_quality
        self.binary = BinaryIndex.from_arrays(ids, rows, bits=HASH_BITS)

    @classmethod
    def from_binary(cls, index: BinaryIndex, *, min_quality: int = DEFAULT_MIN_QUALITY) -> PdqIndex:
        """Wrap a ready :class:`BinaryIndex` of PDQ rows (e.g. one opened from a snapshot).

        Disabled rows of ``index`` never match and are not counted by ``len``.
        """
        made = cls.__new__(cls)
        made.min_quality = min_quality
        made.binary = index
        return made

    def __len__(self) -> int:
        return self.binary.stats().live

    def query(self, signal: Signal, threshold: int) -> list[IndexHit]:
        """Entries within ``threshold`` bits of ``signal`` or any of its variants.

        Only queries of quality >= ``min_quality`` are searched
        (:meth:`SignalType.matchable_queries`: the signal's own value and each variant are
        gated on their own quality). One hit per entry with the smallest distance; ties go to
        the signal's own value, then to the earlier variant. ``IndexHit.variant`` names the
        query that matched (None = the signal itself). Sorted by distance, then entry id.

        Raises:
            InvalidSignalError: the signal or a variant is not a PDQ hash.
        """
        queries = PdqSignalType.matchable_queries(signal, self.min_quality)
        if not queries:
            return []
        rows = hex_to_rows([value for _, value in queries])
        # one hit per entry: the smallest distance, ties to the lowest variant (query order)
        hits = self.binary.search_any_batch(rows[np.newaxis], threshold)
        assert hits.variants is not None
        found = [
            IndexHit(entry_id, distance, queries[variant][0])
            for entry_id, distance, variant in zip(
                hits.ids.tolist(), hits.distances.tolist(), hits.variants.tolist(), strict=True
            )
        ]
        found.sort(key=lambda h: (h.distance, h.entry_id))
        return found


@SIGNAL_TYPES.register("pdq")
class PdqSignalType(SignalType):
    """PDQ photo hashes: 64 hex digits, Hamming distance, default threshold 31 bits.

    ``hash_content`` follows the recipe of :mod:`safehold.signals.images` with this
    instance's :class:`HashOptions` (``preshrink``, ``max_image_pixels``, ``dihedral``,
    ``unletterbox``, ``min_variant_quality``).
    """

    name: ClassVar[str] = "pdq"
    content_types: ClassVar[frozenset[ContentType]] = frozenset({ContentType.PHOTO})
    default_threshold: ClassVar[int] = 31
    max_distance: ClassVar[int] = HASH_BITS
    default_min_quality: ClassVar[int] = DEFAULT_MIN_QUALITY

    @classmethod
    def validate_signal(cls, value: str) -> str:
        """Return ``value`` stripped and lower-cased.

        Raises:
            InvalidSignalError: not 64 hexadecimal digits
                (:func:`~safehold.signals.base.canonical_hex`).
        """
        return canonical_hex(value, HEX_LENGTH, "a pdq hash")

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance in bits (0-256) between two canonical PDQ hashes."""
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def build_index(
        cls, entries: Sequence[tuple[int, str]], *, min_quality: int = DEFAULT_MIN_QUALITY
    ) -> PdqIndex:
        """Build a :class:`PdqIndex`; queries below ``min_quality`` never match."""
        return PdqIndex(entries, min_quality=min_quality)

    def _compute(self, content: Content) -> Signal:
        options = self.options
        decoded = decode_image(
            content, max_pixels=options.max_image_pixels, preshrink=options.preshrink
        )
        pixels = pdq_input(decoded, options.preshrink)
        variants: list[str] = []
        names: list[str] = []
        qualities: list[int | None] = []
        if options.dihedral:
            hashes, quality = hash_pixels_dihedral(pixels)
            value = hashes[0]
            variants += hashes[1:]
            names += DIHEDRAL_NAMES
            qualities += [quality] * len(DIHEDRAL_NAMES)
        else:
            value, quality = hash_pixels(pixels)

        def add(name: str, image: DecodedImage) -> None:
            """Add the hash of ``image`` as variant ``name`` if it is new and good enough."""
            other, other_quality = hash_pixels(pdq_input(image, options.preshrink))
            if other_quality < options.min_variant_quality:
                return
            if other != value and other not in variants:
                variants.append(other)
                names.append(name)
                qualities.append(other_quality)

        if options.unletterbox:
            cropped = unletterbox(decoded)
            if cropped is not None:
                add(UNLETTERBOXED, cropped)
        if decoded.depth_normalised is not None:
            add(DEPTH_NORMALISED, DecodedImage(decoded.depth_normalised, decoded.full_size))
        return Signal(self.name, value, quality, tuple(variants), tuple(names), tuple(qualities))
