"""The value types of live-stream monitoring: states, per-stream configuration, alerts.

A stream's :class:`StreamConfig` is stored as JSON in ``streams.config`` and travels from the
API to whichever monitor process claims the stream; :meth:`StreamConfig.from_dict` is the one
place it is validated. States (:class:`StreamState`)::

    pending -> connecting -> live <-> stalled -> reconnecting -> connecting ...
                                   \\-> ended (the source said end of stream)
    connecting/reconnecting -> failed (``stream_max_retries`` attempts in a row failed)
    any -> stopped (asked to stop through the API or CLI)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safehold.errors import InvalidInputError
from safehold.settings import Settings

#: Bounds of the k-of-n decision and of a stream's bank restriction.
MAX_WINDOW = 100
MAX_BANKS = 100


class StreamState(enum.StrEnum):
    """What a monitor is doing with a stream (see the module docstring)."""

    PENDING = "pending"
    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"
    STOPPED = "stopped"


#: States after which a monitor lets a stream go.
FINAL_STATES = frozenset({StreamState.ENDED, StreamState.FAILED, StreamState.STOPPED})


@dataclass(frozen=True, slots=True)
class Decision:
    """Alert on a bank when ``frames`` (k) of the last ``window`` (n) samples matched it."""

    frames: int
    window: int

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW or not 1 <= self.frames <= self.window:
            raise InvalidInputError(
                f"a decision needs 1 <= frames <= window <= {MAX_WINDOW} "
                f"(got {self.frames} of {self.window})"
            )

    def to_dict(self) -> dict[str, int]:
        """``{"frames": k, "window": n}``."""
        return {"frames": self.frames, "window": self.window}


def _decision(value: Any, where: str) -> Decision:
    if not isinstance(value, Mapping) or set(value) - {"frames", "window"}:
        raise InvalidInputError(f"{where} must be an object with 'frames' and 'window'")
    frames, window = value.get("frames"), value.get("window")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (frames, window)):
        raise InvalidInputError(f"{where}: 'frames' and 'window' must be integers")
    return Decision(int(frames), int(window))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """How one stream is monitored.

    Attributes:
        sample_seconds: stream seconds between regular samples (1.0 = 1 frame per second).
        scene_threshold: scene-change bound (mean absolute difference 0-255 of 16x16 grey
            thumbnails); 0 turns scene-change samples off.
        decision: the default k-of-n decision.
        bank_decisions: k-of-n per bank name (lower case), overriding ``decision``.
        banks: bank names to match (empty: every enabled bank).
        decode: ``auto``, ``all``, ``nonref`` or ``nonkey`` (:mod:`safehold.livestreams.reader`).
    """

    sample_seconds: float
    scene_threshold: float
    decision: Decision
    bank_decisions: Mapping[str, Decision] = field(default_factory=dict)
    banks: tuple[str, ...] = ()
    decode: str = "auto"

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamConfig:
        """The defaults: ``stream_sample_seconds``, ``stream_scene_threshold``,
        ``stream_alert_frames`` of ``stream_alert_window``, ``stream_decode``."""
        return cls(
            sample_seconds=settings.stream_sample_seconds,
            scene_threshold=settings.stream_scene_threshold,
            decision=Decision(
                min(settings.stream_alert_frames, settings.stream_alert_window),
                settings.stream_alert_window,
            ),
            decode=settings.stream_decode,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: Settings) -> StreamConfig:
        """Validate a JSON object (API body or ``streams.config``); absent keys take the
        settings' defaults. Keys: ``sample_seconds``, ``scene_threshold``, ``decision``
        (``{"frames": k, "window": n}``), ``bank_decisions`` (bank name -> decision),
        ``banks`` (list of names), ``decode``.

        Raises:
            InvalidInputError: an unknown key or a value out of range (the message names it).
        """
        base = cls.from_settings(settings)
        unknown = set(data) - {
            "sample_seconds",
            "scene_threshold",
            "decision",
            "bank_decisions",
            "banks",
            "decode",
        }
        if unknown:
            raise InvalidInputError(f"unknown stream option {sorted(unknown)[0]!r}")
        sample = _number(data.get("sample_seconds", base.sample_seconds), "sample_seconds")
        if not 0.05 <= sample <= 60:
            raise InvalidInputError("sample_seconds must be between 0.05 and 60")
        scene = _number(data.get("scene_threshold", base.scene_threshold), "scene_threshold")
        if not 0 <= scene <= 255:
            raise InvalidInputError("scene_threshold must be between 0 and 255")
        decision = base.decision
        if data.get("decision") is not None:
            decision = _decision(data["decision"], "decision")
        raw = data.get("bank_decisions") or {}
        if not isinstance(raw, Mapping) or len(raw) > MAX_BANKS:
            raise InvalidInputError(f"bank_decisions must map at most {MAX_BANKS} bank names")
        per_bank = {
            str(name).lower(): _decision(value, f"bank_decisions[{str(name)[:100]!r}]")
            for name, value in raw.items()
        }
        banks = data.get("banks") or []
        if not isinstance(banks, list | tuple) or len(banks) > MAX_BANKS:
            raise InvalidInputError(f"banks must be a list of at most {MAX_BANKS} names")
        if not all(isinstance(b, str) and 0 < len(b) <= 100 for b in banks):
            raise InvalidInputError("banks must hold bank names (1 to 100 characters)")
        decode = data.get("decode", base.decode)
        if decode not in ("auto", "all", "nonref", "nonkey"):
            raise InvalidInputError("decode must be one of auto, all, nonref, nonkey")
        return cls(sample, scene, decision, per_bank, tuple(banks), str(decode))

    def decision_for(self, bank: str) -> Decision:
        """The k-of-n decision of ``bank`` (its own, else the default)."""
        return self.bank_decisions.get(bank.lower(), self.decision)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form read by :meth:`from_dict`."""
        return {
            "sample_seconds": self.sample_seconds,
            "scene_threshold": self.scene_threshold,
            "decision": self.decision.to_dict(),
            "bank_decisions": {k: v.to_dict() for k, v in sorted(self.bank_decisions.items())},
            "banks": list(self.banks),
            "decode": self.decode,
        }


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number")
    return float(value)


@dataclass(frozen=True, slots=True)
class StreamAlert:
    """A decision that fired: bank entry ``entry_id`` of ``bank`` matched ``matched_frames``
    of the last ``window`` samples; ``stream_seconds`` is the stream time of the sample that
    completed it, ``detected_at`` the wall time (UTC). ``distance`` is the smallest Hamming
    distance seen in the window (bits; kept out of untrusted callers' answers)."""

    bank: str
    entry_id: int
    distance: int
    stream_seconds: float
    matched_frames: int
    window: int
    detected_at: datetime
    category: str | None = None


@dataclass(slots=True)
class StreamCounters:
    """Running totals of one monitored stream (shown by ``watch``, stored, and in metrics)."""

    frames_decoded: int = 0
    frames_sampled: int = 0
    scene_samples: int = 0
    matched_samples: int = 0
    alerts: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    stream_seconds: float = 0.0
