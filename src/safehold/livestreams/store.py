"""Streams and stream alerts in the database: registration, listing, stop requests, leases.

Any number of monitor processes (service workers, ``safehold stream monitor``) share the
``streams`` table. A monitor *claims* a stream with a lease, as the webhook deliverer claims
outbox rows (:mod:`safehold.actions.webhooks`)::

    UPDATE streams SET claimed_by = me, claimed_until = now + lease, status = 'connecting'
    WHERE id = :id AND desired = 'run' AND status NOT IN ('ended', 'failed', 'stopped')
      AND (claimed_until IS NULL OR claimed_until < now)

and owns it when one row changed (the same on SQLite and PostgreSQL). While it runs the
stream it renews the lease with its counters (:meth:`StreamStore.report`); a monitor that
dies leaves the lease to run out and another one takes the stream over. A stop request sets
``desired = 'stop'``; the owner sees it at its next report and stops the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from safehold.banks.rows import db_errors
from safehold.errors import InvalidInputError, NotFoundError
from safehold.livestreams.alert_rows import AlertRows, utc
from safehold.livestreams.models import (
    FINAL_STATES,
    StreamConfig,
    StreamCounters,
    StreamState,
)
from safehold.settings import Settings
from safehold.storage.tables import NAME_LENGTH, stream_alerts, streams, utcnow

MAX_STREAM_ID = 2**62
FINAL = [s.value for s in FINAL_STATES]


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """A registered stream as stored (``url`` may carry a stream key: show ``display``)."""

    id: int
    name: str
    url: str
    config: dict[str, Any]
    stop_url: str | None
    desired: str
    status: str
    claimed_by: str | None
    frames_sampled: int
    alerts: int
    decode_errors: int
    reconnects: int
    stream_seconds: float
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> StreamRecord:
    return StreamRecord(
        id=row.id,
        name=row.name,
        url=row.url,
        config=json.loads(row.config),
        stop_url=row.stop_url,
        desired=row.desired,
        status=row.status,
        claimed_by=row.claimed_by,
        frames_sampled=row.frames_sampled,
        alerts=row.alerts,
        decode_errors=row.decode_errors,
        reconnects=row.reconnects,
        stream_seconds=row.stream_seconds,
        last_error=row.last_error,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


class StreamStore(AlertRows):
    """The ``streams`` and ``stream_alerts`` tables.

    Args:
        engine: a migrated database. Every method may raise
            :class:`~safehold.errors.StorageError` when the database fails.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def register(
        self, url: str, config: StreamConfig, *, name: str = "", stop_url: str | None = None
    ) -> StreamRecord:
        """Store a stream to monitor (URLs are checked by the caller: ``check_stream_url``).

        Raises:
            InvalidInputError: ``name`` longer than 100 characters.
        """
        if len(name) > NAME_LENGTH:
            raise InvalidInputError(f"name is longer than {NAME_LENGTH} characters")
        now = utcnow()
        with db_errors(), self.engine.begin() as c:
            stream_id = c.execute(
                insert(streams)
                .values(
                    name=name,
                    url=url,
                    config=json.dumps(config.to_dict()),
                    stop_url=stop_url,
                    desired="run",
                    status=StreamState.PENDING.value,
                    frames_sampled=0,
                    alerts=0,
                    decode_errors=0,
                    reconnects=0,
                    stream_seconds=0.0,
                    created_at=now,
                    updated_at=now,
                )
                .returning(streams.c.id)
            ).scalar_one()
        return self.get(stream_id)

    def get(self, stream_id: int) -> StreamRecord:
        """One stream.

        Raises:
            NotFoundError: no such stream.
        """
        with db_errors(), self.engine.connect() as c:
            row = (
                c.execute(select(streams).where(streams.c.id == stream_id)).first()
                if 0 < stream_id <= MAX_STREAM_ID
                else None
            )
        if row is None:
            raise NotFoundError(f"no stream with id {stream_id}")
        return _record(row)

    def list_streams(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[StreamRecord]:
        """Streams with ``id > after_id`` (of ``status`` when given), oldest first.

        Raises:
            InvalidInputError: ``limit`` outside 1..1000, ``after_id`` negative, or an
                unknown ``status``.
        """
        if not 1 <= limit <= 1000 or not 0 <= after_id <= MAX_STREAM_ID:
            raise InvalidInputError("limit must be 1 to 1000 and after_id not negative")
        query = select(streams).where(streams.c.id > after_id)
        if status is not None:
            if status not in {s.value for s in StreamState}:
                raise InvalidInputError(f"unknown stream status {status[:20]!r}")
            query = query.where(streams.c.status == status)
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(query.order_by(streams.c.id).limit(limit)).all()
        return [_record(row) for row in rows]

    def request_stop(self, stream_id: int) -> StreamRecord:
        """Ask for a stream to be stopped; an unclaimed one is ``stopped`` at once.

        Raises:
            NotFoundError: no such stream.
        """
        self.get(stream_id)
        now = utcnow()
        with db_errors(), self.engine.begin() as c:
            c.execute(update(streams).where(streams.c.id == stream_id).values(desired="stop"))
            c.execute(
                update(streams)
                .where(
                    streams.c.id == stream_id,
                    streams.c.status.not_in(FINAL),
                    or_(streams.c.claimed_until.is_(None), streams.c.claimed_until < now),
                )
                .values(status=StreamState.STOPPED.value, updated_at=now)
            )
        return self.get(stream_id)

    # -- monitors ----------------------------------------------------------------------------

    def claim(
        self, worker_id: str, lease_s: float, limit: int, *, only: frozenset[int] | None = None
    ) -> list[StreamRecord]:
        """Claim up to ``limit`` runnable streams nobody holds (module docstring); ``only``
        restricts the claim to these ids (``safehold stream watch``)."""
        now = utcnow()
        free = and_(
            streams.c.desired == "run",
            streams.c.status.not_in(FINAL),
            or_(streams.c.claimed_until.is_(None), streams.c.claimed_until < now),
        )
        if only is not None:
            free = and_(free, streams.c.id.in_(sorted(only)))
        won: list[int] = []
        with db_errors():
            with self.engine.connect() as c:
                ids = c.scalars(
                    select(streams.c.id).where(free).order_by(streams.c.id).limit(limit)
                ).all()
            for stream_id in ids:
                with self.engine.begin() as c:
                    changed = c.execute(
                        update(streams)
                        .where(streams.c.id == stream_id, free)
                        .values(
                            claimed_by=worker_id,
                            claimed_until=now + timedelta(seconds=lease_s),
                            status=StreamState.CONNECTING.value,
                            updated_at=now,
                        )
                    ).rowcount
                if changed == 1:
                    won.append(stream_id)
        return [self.get(i) for i in won]

    def report(
        self,
        stream_id: int,
        worker_id: str,
        lease_s: float,
        *,
        state: StreamState,
        counters: StreamCounters,
        last_error: str | None,
        release: bool = False,
    ) -> bool:
        """Store a monitor's state and counters and renew (or, ``release``, drop) its lease.

        Returns:
            Whether the monitor should keep running the stream: it still holds the lease and
            no stop was requested.
        """
        now = utcnow()
        mine = and_(streams.c.id == stream_id, streams.c.claimed_by == worker_id)
        values: dict[str, Any] = {
            "status": state.value,
            "frames_sampled": counters.frames_sampled,
            # The alert rows are the truth: a monitor killed between an alert and its next
            # report would otherwise leave the count short (``counters.alerts`` is ignored).
            "alerts": select(func.count())
            .select_from(stream_alerts)
            .where(stream_alerts.c.stream_id == stream_id)
            .scalar_subquery(),
            "decode_errors": counters.decode_errors,
            "reconnects": counters.reconnects,
            "stream_seconds": counters.stream_seconds,
            "last_error": last_error,
            "updated_at": now,
            "claimed_until": None if release else now + timedelta(seconds=lease_s),
        }
        if release:
            values["claimed_by"] = None
        with db_errors(), self.engine.begin() as c:
            if c.execute(update(streams).where(mine).values(**values)).rowcount != 1:
                return False
            desired = c.execute(
                select(streams.c.desired).where(streams.c.id == stream_id)
            ).scalar_one()
        return desired == "run" and not release

    def summary(self) -> tuple[dict[str, int], dict[str, float]]:
        """``(streams per state, every state listed; totals over all streams of
        frames_sampled, alerts, decode_errors, reconnects, stream_seconds)``: one grouped
        query (for ``/metrics``)."""
        names = ("frames_sampled", "alerts", "decode_errors", "reconnects", "stream_seconds")
        columns = [func.coalesce(func.sum(streams.c[n]), 0) for n in names]
        with db_errors(), self.engine.connect() as c:
            rows = c.execute(
                select(streams.c.status, func.count(), *columns).group_by(streams.c.status)
            ).all()
        counts = {s.value: 0 for s in StreamState}
        totals = dict.fromkeys(names, 0.0)
        for row in rows:
            counts[row[0]] = int(row[1])
            for i, name in enumerate(names):
                totals[name] += float(row[2 + i])
        return counts, totals


def config_of(record: StreamRecord, settings: Settings) -> StreamConfig:
    """The stored configuration of ``record`` as a :class:`StreamConfig`."""
    return StreamConfig.from_dict(record.config, settings)
