"""Hash content received by the service (an upload or a fetched URL) the way ``safehold scan``
hashes a file.

The recipe is the scan's own: sniff the format from the magic bytes
(:func:`safehold.signals.content.sniff` / ``detect_content``, never the name), then every
requested signal type that handles the content type, through the scan worker's
:class:`~safehold.scanning.worker.FileHasher` (same options from the same settings, same
per-type error handling). Bytes are hashed in memory, never written to disk.

Bounds: ``max_upload_bytes`` (checked before sniffing), ``max_image_pixels`` (decompression
bombs), ``max_video_seconds``. Errors are the ``ContentError`` family: unsupported format 415,
too large 413, empty/corrupt 422. Content that yields some signals but not all (a damaged
video hashed up to the damage, an image whose PDQ fails while its md5 succeeds) keeps its
signals and reports the failure in :attr:`HashedContent.error`.

Hashing runs in the calling thread with no time bound beyond the content bounds; the HTTP
routes call it through a thread pool so the event loop never blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from safehold.banks.validation import signal_type_class
from safehold.errors import (
    ContentError,
    ContentTooLargeError,
    EmptyContentError,
    SafeholdError,
    UnsupportedContentError,
)
from safehold.scanning.pipeline import builtin_signal_types
from safehold.scanning.records import FileError
from safehold.scanning.worker import FileHasher
from safehold.settings import Settings
from safehold.signals import Content, HashOptions, Signal
from safehold.signals.content import SNIFF_BYTES, sniff

#: The name given to content held in memory (it appears in no message).
UPLOAD_NAME = "upload"


@dataclass(frozen=True, slots=True)
class HashedContent:
    """The signals of one piece of content.

    Attributes:
        content_type: ``photo`` or ``video``.
        size: bytes.
        format_name: the sniffed format (``"JPEG"``, ``"MP4"``, ...).
        signals: signal type name -> signal, for every requested type that succeeded.
        error: None, or the failure of a requested type (or the partial decode) while
            other signals were computed.
    """

    content_type: str
    size: int
    format_name: str | None
    signals: dict[str, Signal]
    error: FileError | None = None


def hash_options(settings: Settings) -> HashOptions:
    """The scan's hash options from ``settings`` (``ScanConfig.from_settings``' recipe)."""
    return HashOptions(
        vpdq_seconds_per_frame=settings.vpdq_seconds_per_frame,
        max_image_pixels=settings.max_image_pixels,
        max_video_seconds=settings.max_video_seconds,
        min_variant_quality=settings.pdq_min_quality,
    )


def hash_upload(
    data: bytes | Path, settings: Settings, signal_types: Sequence[str] = ()
) -> HashedContent:
    """Hash ``data`` (bytes in memory, or a file) with ``signal_types`` (empty: every
    built-in type that hashes the content, as ``safehold scan``; plug-ins must be named).

    Raises:
        InvalidInputError: an unknown signal type.
        ContentTooLargeError: over ``max_upload_bytes``, too many pixels, too long (413).
        UnsupportedContentError: not a format Safehold decodes, or none of the requested
            types hashes its content type (415).
        EmptyContentError, CorruptContentError, ContentError: nothing could be hashed (422).
    """
    names = [signal_type_class(n).name for n in signal_types] or list(builtin_signal_types())
    hasher = FileHasher(
        names, hash_options(settings), settings, max_file_bytes=settings.max_upload_bytes
    )
    if isinstance(data, Path):
        outcome, _ = hasher.hash_path(str(data))
        format_name = _format_of(data)
    else:
        content = _content_of(bytes(data), settings)
        outcome, _ = hasher.hash_content(content)
        format_name = content.format_name
    if not outcome.signals:
        if outcome.error is not None:
            raise _as_error(outcome.error)
        raise UnsupportedContentError(
            f"none of the signal types asked for ({', '.join(names)}) hashes "
            f"{outcome.content_type} content"
        )
    assert outcome.content_type is not None
    assert outcome.size is not None
    return HashedContent(
        outcome.content_type, outcome.size, format_name, dict(outcome.signals), outcome.error
    )


def _content_of(data: bytes, settings: Settings) -> Content:
    """:class:`Content` over bytes in memory, bounded as ``detect_content`` bounds files."""
    if len(data) > settings.max_upload_bytes:
        raise ContentTooLargeError(
            f"the content has {len(data)} bytes, over the bound of "
            f"{settings.max_upload_bytes} bytes (max_upload_bytes)"
        )
    if not data:
        raise EmptyContentError("the content is empty (0 bytes)")
    content_type, name = sniff(data[:SNIFF_BYTES])
    return Content(
        path=Path(UPLOAD_NAME),
        content_type=content_type,
        size=len(data),
        _data=data,
        format_name=name,
    )


def _format_of(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return sniff(f.read(SNIFF_BYTES))[1]
    except (OSError, SafeholdError):
        return None


def _error_classes() -> dict[str, type[ContentError]]:
    """Every ``ContentError`` class by code (the scan's leaves included)."""
    found: dict[str, type[ContentError]] = {}
    todo: list[type[ContentError]] = [ContentError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found


def _as_error(error: FileError) -> SafeholdError:
    """The exception a per-file error stands for (``ContentError`` for codes it lacks)."""
    cls = _error_classes().get(error.type, ContentError)
    return cls(error.message)
