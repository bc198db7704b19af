"""The ``stream_alerts`` table: one row per alert, with the stop callback's outcome.

Mixed into :class:`~safehold.livestreams.store.StreamStore` (same engine, same errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select, update

from safehold.banks.rows import db_errors
from safehold.errors import InvalidInputError
from safehold.livestreams.models import StreamAlert
from safehold.storage.tables import banks, stream_alerts


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored (``bank`` by name; None when the bank was deleted since)."""

    id: int
    stream_id: int
    created_at: datetime
    bank: str | None
    entry_id: int
    event_id: int | None
    distance: int
    stream_seconds: float
    matched_frames: int
    window: int
    stop_status: str | None


def utc(value: datetime) -> datetime:
    """Re-attach UTC to a naive datetime read back from SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AlertRows:
    """Alert methods of the stream store (``engine`` is set by the store)."""

    engine: Engine

    def get(self, stream_id: int) -> object:
        """Overridden by the store: raises NotFoundError for an unknown stream."""
        raise NotImplementedError

    def add_alert(self, stream_id: int, alert: StreamAlert, *, event_id: int | None) -> int:
        """Store an alert of ``stream_id`` (bank looked up by name; 0 when deleted)."""
        with db_errors(), self.engine.begin() as c:
            bank_id = c.execute(
                select(banks.c.id).where(func.lower(banks.c.name) == alert.bank.lower())
            ).scalar()
            return int(
                c.execute(
                    insert(stream_alerts)
                    .values(
                        stream_id=stream_id,
                        created_at=alert.detected_at,
                        bank_id=bank_id or 0,
                        entry_id=alert.entry_id,
                        event_id=event_id,
                        distance=alert.distance,
                        stream_seconds=alert.stream_seconds,
                        matched_frames=alert.matched_frames,
                        window=alert.window,
                    )
                    .returning(stream_alerts.c.id)
                ).scalar_one()
            )

    def set_stop_status(self, alert_id: int, status: str) -> None:
        """Record what the stop-stream callback answered for an alert."""
        with db_errors(), self.engine.begin() as c:
            c.execute(
                update(stream_alerts)
                .where(stream_alerts.c.id == alert_id)
                .values(stop_status=status[:200])
            )

    def list_alerts(
        self, stream_id: int, *, after_id: int = 0, limit: int = 100
    ) -> list[StoredAlert]:
        """A stream's alerts with ``id > after_id``, oldest first (at most ``limit``, 1..1000).

        Raises:
            NotFoundError: no such stream. InvalidInputError: bad ``limit``.
        """
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be 1 to 1000")
        self.get(stream_id)
        query = (
            select(stream_alerts, banks.c.name.label("bank_name"))
            .outerjoin(banks, banks.c.id == stream_alerts.c.bank_id)
            .where(stream_alerts.c.stream_id == stream_id, stream_alerts.c.id > after_id)
            .order_by(stream_alerts.c.id)
            .limit(limit)
        )
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(query).all()
        return [
            StoredAlert(
                id=r.id,
                stream_id=r.stream_id,
                created_at=utc(r.created_at),
                bank=r.bank_name,
                entry_id=r.entry_id,
                event_id=r.event_id,
                distance=r.distance,
                stream_seconds=r.stream_seconds,
                matched_frames=r.matched_frames,
                window=r.window,
                stop_status=r.stop_status,
            )
            for r in rows
        ]
