"""The detector plug-in point: messages in, indicator hits out.

A detector reads a batch of message texts and returns, per text, the indicators it shows
(:class:`Hit`: indicator name, strength 0-1, evidence). Two built-ins share this interface:
``pattern`` (transparent regular expressions, :mod:`.patterns`) and ``embedding`` (similarity
to example sentences with a MiniLM sentence model, :mod:`.embedding`). The risk scorer and the
monitor only see :class:`Hit` lists, so either detector (or a new one) plugs in unchanged.

Following perception's hasher design, the public :meth:`Detector.detect` validates and the
implementation writes one private ``_detect``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from safehold.errors import InvalidInputError
from safehold.grooming.model import MAX_MESSAGE_CHARS
from safehold.plugins import Registry


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator shown by one message.

    Attributes:
        indicator: the indicator's permanent name.
        strength: 0-1; 1.0 for a pattern match, the calibrated similarity for embeddings.
        evidence: what triggered it: the matched words (normalised) or the nearest example.
    """

    indicator: str
    strength: float
    evidence: str


class Detector(ABC):
    """Base class of grooming detectors; subclasses set ``name`` and write ``_detect``."""

    #: Permanent name (stored with results; used by settings and the CLI).
    name: ClassVar[str] = ""
    #: Version of the detector's data (patterns or examples); part of every result.
    version: str = "0"

    def detect(self, texts: Sequence[str]) -> list[list[Hit]]:
        """Return the hits of each text, in input order (one list per text, maybe empty).

        Raises:
            InvalidInputError: a text is not a string or is longer than MAX_MESSAGE_CHARS.
        """
        batch = list(texts)
        for i, text in enumerate(batch):
            if not isinstance(text, str):
                raise InvalidInputError(f"message {i}: text must be a string")
            if len(text) > MAX_MESSAGE_CHARS:
                raise InvalidInputError(f"message {i}: text longer than {MAX_MESSAGE_CHARS}")
        if not batch:
            return []
        return self._detect(batch)

    @abstractmethod
    def _detect(self, texts: list[str]) -> list[list[Hit]]:
        """Detect indicators in validated texts (same length and order as the input)."""


DETECTORS: Registry[type[Detector]] = Registry("grooming detector")


def get_detector(name: str, **options: Any) -> Detector:
    """Build the detector registered as ``name`` (``pattern`` or ``embedding``).

    Raises:
        NotFoundError: unknown name (the message lists the known ones).
        ConfigurationError: the detector needs an optional extra that is not installed.
    """
    import safehold.grooming.embedding
    import safehold.grooming.patterns  # noqa: F401

    return DETECTORS.get(name)(**options)
