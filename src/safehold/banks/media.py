"""Hash media files into bank entries (``safehold bank add-media``).

Used to build banks from files an organisation holds (in tests: benign reference media). Each
file gets every applicable signal type; a file that cannot be hashed yields an error for that
file only, and the batch goes on. Folders are walked by :func:`safehold.scanning.walk.walk`,
the same walker ``safehold scan`` uses (see ``cli/bank.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safehold.banks.models import Category, NewEntry
from safehold.errors import ContentError, SafeholdError
from safehold.settings import Settings
from safehold.signals.base import SIGNAL_TYPES, HashOptions, SignalType
from safehold.signals.content import detect_content


@dataclass(slots=True)
class MediaResult:
    """What one file gave: entries to add, or the error that stopped it.

    Attributes:
        skipped: signal types left out for this file, with the reason: a perceptual hash
            whose quality is below the matching floor (``pdq_min_quality`` for PDQ, the signal
            type's ``default_min_quality`` otherwise) would match unrelated low-detail images.
    """

    path: Path
    entries: list[NewEntry] = field(default_factory=list)
    error: SafeholdError | None = None
    skipped: list[str] = field(default_factory=list)


class MediaHasher:
    """Hashes files with the chosen signal types.

    Args:
        settings: hashing bounds and ``pdq_min_quality``.
        signal_types: names to use; ``None`` means every registered signal type.

    Raises:
        NotFoundError: an unknown signal type name.
    """

    def __init__(self, settings: Settings, signal_types: Sequence[str] | None = None) -> None:
        self.settings = settings
        options = HashOptions(
            vpdq_seconds_per_frame=settings.vpdq_seconds_per_frame,
            max_image_pixels=settings.max_image_pixels,
            max_video_seconds=settings.max_video_seconds,
        )
        names = list(signal_types) if signal_types else SIGNAL_TYPES.names()
        self.types: list[SignalType] = [SIGNAL_TYPES.get(name)(options) for name in names]

    def hash_file(
        self, path: Path, *, category: Category | None = None, source: str = "", note: str = ""
    ) -> MediaResult:
        """Hash one file into entries; never raises for a bad file (see ``error``)."""
        result = MediaResult(path)
        try:
            content = detect_content(path, self.settings)
            for signal_type in self.types:
                if content.content_type not in signal_type.content_types:
                    continue
                signal = signal_type.hash_content(content)
                floor = self.settings.pdq_min_quality if signal_type.name == "pdq" else None
                if not signal_type.is_matchable(signal, floor):
                    result.skipped.append(
                        f"{signal.signal_type}: quality {signal.quality} is too low to match"
                    )
                    continue
                result.entries.append(
                    NewEntry(
                        signal_type=signal.signal_type,
                        value=signal.value,
                        quality=signal.quality,
                        category=category,
                        source=source,
                        note=note,
                    )
                )
        except ContentError as exc:
            result.error = exc
            result.entries.clear()
        except OSError as exc:
            result.error = ContentError(f"cannot read the file: {exc.strerror or exc}")
            result.entries.clear()
        if result.error is None and not result.entries and not result.skipped:
            result.error = ContentError("no selected signal type hashes this kind of content")
        return result
