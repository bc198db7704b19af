"""Shapes of the live-stream routes (``/v1/streams``).

Stream URLs may carry a stream key in their path or query, so answers show only
``scheme://host:port`` (``url``); the options are validated by the service
(``safehold.livestreams.models.StreamConfig``), here only types and lengths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safehold.fetching.urls import MAX_URL_LENGTH
from safehold.livestreams.alert_rows import StoredAlert
from safehold.livestreams.service import display_url
from safehold.livestreams.store import StreamRecord

StreamStatus = Literal[
    "pending", "connecting", "live", "stalled", "reconnecting", "ended", "failed", "stopped"
]


class DecisionBody(BaseModel):
    """Alert when ``frames`` (k) of the last ``window`` (n) samples matched a bank."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not ignored

    frames: int = Field(ge=1, le=100)
    window: int = Field(ge=1, le=100)


class StreamCreate(BaseModel):
    """A stream to monitor; unset options take the server's defaults (docs/settings.md)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not ignored

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http(s) (HLS, MPEG-TS, growing file), rtmp(s), rtsp(s) or udp URL",
    )
    name: str = Field(default="", max_length=100)
    stop_url: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="POSTed a JSON alert to ask the platform to stop the stream",
    )
    sample_seconds: float | None = Field(default=None, ge=0.05, le=60)
    scene_threshold: float | None = Field(default=None, ge=0, le=255)
    decision: DecisionBody | None = None
    bank_decisions: dict[str, DecisionBody] | None = Field(default=None, max_length=100)
    banks: list[str] | None = Field(default=None, max_length=100)
    decode: Literal["auto", "all", "nonref", "nonkey"] | None = None

    def options(self) -> dict[str, Any]:
        """The monitoring options that were given."""
        keys = ("sample_seconds", "scene_threshold", "decision", "bank_decisions", "banks")
        given = self.model_dump(include={*keys, "decode"}, exclude_none=True)
        return given


class StreamPublic(BaseModel):
    """A monitored stream: state, counters and options (``url`` without path or query)."""

    id: int
    name: str
    url: str
    status: StreamStatus
    stop_requested: bool
    stop_url: str | None
    options: dict[str, Any]
    frames_sampled: int
    alerts: int
    decode_errors: int
    reconnects: int
    stream_seconds: float
    last_error: str | None
    monitor: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: StreamRecord) -> StreamPublic:
        """From the stored record."""
        return cls(
            id=r.id,
            name=r.name,
            url=display_url(r.url),
            status=r.status,
            stop_requested=r.desired == "stop",
            stop_url=display_url(r.stop_url) if r.stop_url else None,
            options=r.config,
            frames_sampled=r.frames_sampled,
            alerts=r.alerts,
            decode_errors=r.decode_errors,
            reconnects=r.reconnects,
            stream_seconds=r.stream_seconds,
            last_error=r.last_error,
            monitor=r.claimed_by,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class StreamPage(BaseModel):
    """Streams with ``id > after_id``; ``next_after_id`` is null on the last page."""

    items: list[StreamPublic]
    next_after_id: int | None


class StreamAlertPublic(BaseModel):
    """An alert: bank entry (id, never its hash), stream time, wall time, k of n."""

    id: int
    stream_id: int
    bank: str | None
    entry_id: int
    event_id: int | None
    stream_seconds: float
    matched_frames: int
    window: int
    detected_at: datetime
    stop_status: str | None

    @classmethod
    def of(cls, a: StoredAlert) -> StreamAlertPublic:
        """From the stored alert."""
        return cls(
            id=a.id,
            stream_id=a.stream_id,
            bank=a.bank,
            entry_id=a.entry_id,
            event_id=a.event_id,
            stream_seconds=a.stream_seconds,
            matched_frames=a.matched_frames,
            window=a.window,
            detected_at=a.created_at,
            stop_status=a.stop_status,
        )
