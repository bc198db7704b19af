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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from safehold.plugins import Registry


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
    """

    dihedral: bool = False
    unletterbox: bool = False
    preshrink: int = 512
    vpdq_seconds_per_frame: float = 1.0
    max_image_pixels: int = 100_000_000
    max_video_seconds: float = 4 * 3600.0


@dataclass(slots=True)
class Content:
    """One file to hash: where it is, what it is, and its bytes (read at most once)."""

    path: Path
    content_type: ContentType
    size: int
    _data: bytes | None = field(default=None, repr=False)

    def read_bytes(self) -> bytes:
        """Return the file's bytes, reading the file on first use only."""
        if self._data is None:
            self._data = self.path.read_bytes()
        return self._data


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
            rotations/flips, the unletterboxed hash); never stored in banks.
    """

    signal_type: str
    value: str
    quality: int | None = None
    variants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexHit:
    """One bank entry matched by a query: the entry's id and the distance (0 for exact types)."""

    entry_id: int
    distance: int


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
    """

    name: ClassVar[str]
    content_types: ClassVar[frozenset[ContentType]]
    default_threshold: ClassVar[int] = 0
    max_distance: ClassVar[int] = 0

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

    def hash_content(self, content: Content) -> Signal:
        """Hash ``content``.

        Raises:
            UnsupportedContentError: the content type is not one this signal type handles.
            ContentError (subclasses): the file cannot be decoded, is empty or too large.
        """
        from safehold.errors import UnsupportedContentError

        if content.content_type not in self.content_types:
            raise UnsupportedContentError(
                f"signal type {self.name} does not hash {content.content_type} content"
            )
        return self._compute(content)

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
