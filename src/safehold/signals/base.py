"""The plug-in point for signal types, after python-threatexchange's ``SignalType``.

A signal type has a permanent ``name`` (stored in banks and shared lists, never renamed), says
which content types it hashes, parses and normalises its serialised form, measures the distance
between two signals, and builds a :class:`SignalIndex` over bank entries for matching.

The public method :meth:`SignalType.hash_content` checks its input and maps failures to the
``ContentError`` family; each plug-in writes one private ``_compute``.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from safehold.errors import InvalidSignalError
from safehold.plugins import Registry

_HEX_DIGITS = frozenset("0123456789abcdef")


def canonical_hex(value: str, digits: int, what: str) -> str:
    """``value`` stripped and lower-cased, checked to be exactly ``digits`` hexadecimal digits.

    Args:
        value: the hash as given.
        digits: how many hexadecimal digits the hash has (64 for PDQ and SHA-256, 32 for MD5).
        what: the hash as messages name it, e.g. ``"a pdq hash"``.

    Raises:
        InvalidSignalError: a character that is not a hexadecimal digit 0-9/a-f (a ``0x``
            prefix, a fullwidth or Arabic-Indic digit, a control character), or the wrong
            number of digits. The message never echoes the value.
    """
    text = value.strip().lower()
    if not _HEX_DIGITS.issuperset(text):
        hint = " (drop the 0x prefix)" if text.startswith("0x") else ""
        raise InvalidSignalError(
            f"{what} contains characters that are not hexadecimal digits (0-9, a-f){hint}"
        )
    if len(text) != digits:
        raise InvalidSignalError(
            f"{what} is {digits} hexadecimal digits (got {len(text)} characters)"
        )
    return text


class ContentType(enum.StrEnum):
    """What a piece of content is (the field's terms)."""

    PHOTO = "photo"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class HashOptions:
    """Options for hashing and matching perceptual signals.

    Attributes:
        dihedral: also match the 8 rotations/flips of a photo (PDQ dihedral variants).
        unletterbox: also hash a photo with uniform black bars removed.
        preshrink: longest side (px) a photo is reduced to before PDQ (0 = never). PDQ itself
            reduces to 64x64, so a pre-shrink to 512 px changes few bits and saves most time.
        vpdq_seconds_per_frame: vPDQ sampling interval (1.0 = 1 frame per second).
        max_image_pixels: decompression-bomb bound, pixels per frame.
        max_video_seconds: longest video hashed.
        min_variant_quality: a query variant hashed from other pixels than the signal's own
            (``unletterboxed``, ``depth-normalised``) is kept only when its own PDQ quality
            (0-100) reaches this; 50 is the PDQ authors' cut-off and the default of
            ``Settings.pdq_min_quality``, so a variant too poor to match is not computed into
            the signal at all.
    """

    dihedral: bool = False
    unletterbox: bool = False
    preshrink: int = 512
    vpdq_seconds_per_frame: float = 1.0
    max_image_pixels: int = 100_000_000
    max_video_seconds: float = 4 * 3600.0
    min_variant_quality: int = 50


@dataclass(slots=True)
class Content:
    """One file to hash: where it is, what it is, and its bytes (read at most once).

    Attributes:
        format_name: the container/codec family sniffed from the magic bytes (``"JPEG"``,
            ``"PNG"``, ``"HEIF"``, ``"MP4"``, ...; see ``signals.content``), or None when
            the content was built without sniffing.
    """

    path: Path
    content_type: ContentType
    size: int
    _data: bytes | None = field(default=None, repr=False)
    format_name: str | None = None

    def read_bytes(self) -> bytes:
        """Return the file's bytes, reading the file on first use only."""
        if self._data is None:
            self._data = self.path.read_bytes()
        return self._data

    def iter_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Yield the file's bytes in chunks of at most ``chunk_size`` bytes.

        Uses the bytes already read when there are some; otherwise streams the file without
        holding it in memory (cryptographic hashes of multi-gigabyte videos).
        """
        if self._data is not None:
            view = memoryview(self._data)
            for start in range(0, len(view), chunk_size):
                yield bytes(view[start : start + chunk_size])
            return
        with self.path.open("rb") as f:
            while chunk := f.read(chunk_size):
                yield chunk


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal (hash) of one piece of content.

    Attributes:
        signal_type: the signal type's permanent name.
        value: canonical serialised form (lower-case hex for pdq/md5/sha256; the vPDQ text
            format for vpdq), the string stored in banks and exchanged with other systems.
        quality: 0-100 for perceptual hashes (PDQ quality; for vPDQ the mean frame quality),
            None for cryptographic hashes.
        variants: extra serialised signals matched on the query side only (dihedral
            rotations/flips, the unletterboxed hash, the depth-normalised hash of a 16-bit or
            float photo); never stored in banks.
        variant_names: names of ``variants``, same order (``rotate90``, ``unletterboxed``,
            ...); may be empty (e.g. a signal read back from a store that kept only values).
        variant_qualities: quality of each of ``variants``, same order; may be empty or
            shorter, and then a variant has the signal's own ``quality`` (right for
            rotations/flips, which PDQ computes from the same pixels). A store that keeps
            signals should keep it: the depth-normalised variant of a 16-bit photo is often
            the only query good enough to match (its own value has quality 0).
        partial: None, or a one-line account of content that could not be decoded while the
            rest was (``"video data ends early: decoded 8.6 s of 20.5 s; hashed the decodable
            part"``): the signal is valid for the decodable part, and callers should report
            the message as a ``corrupt`` error alongside it.
    """

    signal_type: str
    value: str
    quality: int | None = None
    variants: tuple[str, ...] = ()
    variant_names: tuple[str, ...] = ()
    variant_qualities: tuple[int | None, ...] = ()
    partial: str | None = None

    def variant_name(self, index: int) -> str:
        """Name of ``variants[index]``: from ``variant_names``, else ``variant-<index + 1>``."""
        if index < len(self.variant_names):
            return self.variant_names[index]
        return f"variant-{index + 1}"

    def variant_quality(self, index: int) -> int | None:
        """Quality of ``variants[index]``: from ``variant_qualities``, else ``quality``."""
        if index < len(self.variant_qualities):
            return self.variant_qualities[index]
        return self.quality


@dataclass(frozen=True, slots=True)
class IndexHit:
    """One bank entry matched by a query.

    Attributes:
        entry_id: the bank entry's id.
        distance: the signal type's distance (0 for exact types; Hamming bits for PDQ; for
            vPDQ see ``signals.vpdq``).
        variant: which query signal matched: None for the signal's own value, else the
            variant's name (``Signal.variant_name``), e.g. ``"rotate90"``.
    """

    entry_id: int
    distance: int
    variant: str | None = None


class SignalIndex(ABC):
    """Searchable set of bank entries of one signal type.

    Built from ``(entry_id, value)`` pairs whose values were already validated.
    """

    @abstractmethod
    def query(self, signal: Signal, threshold: int) -> list[IndexHit]:
        """Return every entry within ``threshold`` of ``signal`` or any of its variants.

        Exact (recall 1.0). One hit per entry, with the smallest distance over variants.
        """

    @abstractmethod
    def __len__(self) -> int:
        """Number of entries indexed."""


class SignalType(ABC):
    """Base class of every signal type plug-in.

    Class attributes:
        name: permanent identifier, e.g. ``"pdq"``.
        content_types: content types this signal type hashes.
        default_threshold: distance at or below which two signals match (0 = exact only).
        max_distance: largest possible distance (for validating thresholds).
        default_min_quality: signals below this quality are not matched (0 = no gate;
            PDQ uses 50, the cut-off of the PDQ reference and ``pdq_min_quality``).
    """

    name: ClassVar[str]
    content_types: ClassVar[frozenset[ContentType]]
    default_threshold: ClassVar[int] = 0
    max_distance: ClassVar[int] = 0
    default_min_quality: ClassVar[int] = 0

    def __init__(self, options: HashOptions | None = None) -> None:
        self.options = options or HashOptions()

    @classmethod
    @abstractmethod
    def validate_signal(cls, value: str) -> str:
        """Return ``value`` in canonical form.

        Raises:
            InvalidSignalError: when ``value`` does not parse (the message never echoes a
                full bank hash).
        """

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance between two canonical signals (Hamming bits for PDQ; 0/1 for exact types)."""

    @classmethod
    @abstractmethod
    def build_index(cls, entries: Sequence[tuple[int, str]]) -> SignalIndex:
        """Build a :class:`SignalIndex` over validated ``(entry_id, value)`` pairs."""

    @classmethod
    def is_matchable(cls, signal: Signal, min_quality: int | None = None) -> bool:
        """True when ``signal``'s own value is good enough to match (or to store in a bank).

        Signals without a quality (cryptographic hashes) always are; others need
        ``quality >= min_quality`` (default: the class's ``default_min_quality``). Query
        variants are not considered: see :meth:`matchable_queries` for matching.
        """
        if signal.quality is None:
            return True
        floor = cls.default_min_quality if min_quality is None else min_quality
        return signal.quality >= floor

    @classmethod
    def matchable_queries(
        cls, signal: Signal, min_quality: int | None = None
    ) -> list[tuple[str | None, str]]:
        """The queries of ``signal`` good enough to match: ``[(variant name or None, value)]``.

        The signal's own value (name None) when :meth:`is_matchable`, then each variant whose
        quality (:meth:`Signal.variant_quality`; None always passes) reaches the same floor.
        Empty when nothing may be matched: a caller that gates a signal before querying an
        index should test this list, not :meth:`is_matchable` alone, or it misses the
        depth-normalised variant of a 16-bit photo whose own value has quality 0.
        """
        floor = cls.default_min_quality if min_quality is None else min_quality
        queries: list[tuple[str | None, str]] = []
        if cls.is_matchable(signal, floor):
            queries.append((None, signal.value))
        for i, value in enumerate(signal.variants):
            quality = signal.variant_quality(i)
            if quality is None or quality >= floor:
                queries.append((signal.variant_name(i), value))
        return queries

    def hash_content(self, content: Content) -> Signal:
        """Hash ``content``.

        Never lets a raw exception escape except ``MemoryError`` (left to the caller, which
        may need to replace its process): decoder failures the plug-in did not map become
        ``CorruptContentError``, I/O failures ``ContentError``.

        Raises:
            UnsupportedContentError: the content type is not one this signal type handles.
            ContentError (subclasses): the file cannot be read or decoded, is empty or too
                large.
        """
        from safehold.errors import (
            ContentError,
            CorruptContentError,
            SafeholdError,
            UnsupportedContentError,
        )

        if content.content_type not in self.content_types:
            raise UnsupportedContentError(
                f"signal type {self.name} does not hash {content.content_type} content"
            )
        try:
            return self._compute(content)
        except SafeholdError:
            raise
        except MemoryError:
            raise  # the caller decides (the scanner replaces the worker process)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ContentError(f"{self.name}: cannot read the file: {reason}") from exc
        except Exception as exc:
            raise CorruptContentError(
                f"{self.name}: cannot decode the file ({type(exc).__name__}: {exc})"[:300]
            ) from exc

    @abstractmethod
    def _compute(self, content: Content) -> Signal:
        """Hash ``content`` (already checked for content type)."""


SIGNAL_TYPES: Registry[type[SignalType]] = Registry("signal type")


def get_signal_type(name: str) -> type[SignalType]:
    """Return the signal type class registered as ``name``.

    Raises:
        NotFoundError: for unknown names.
    """
    return SIGNAL_TYPES.get(name)
