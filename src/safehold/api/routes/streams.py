"""Live-stream monitoring: register, list, inspect and stop streams; read their alerts.

Every route needs the ``matcher`` (or ``admin``) scope: registering makes the service connect
to a URL, and alerts name bank entries, so only the platform's trusted integration may call
them. Monitors (service workers, ``safehold stream monitor``) pick registered streams up
from the database; see docs/livestreams.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from safehold.api.deps import MatcherKey, StateDep
from safehold.api.schemas.common import AUTH_RESPONSES
from safehold.api.schemas.streams import (
    StreamAlertPublic,
    StreamCreate,
    StreamPage,
    StreamPublic,
    StreamStatus,
)
from safehold.livestreams.service import StreamService
from safehold.livestreams.store import MAX_STREAM_ID

router = APIRouter(tags=["streams"], responses=AUTH_RESPONSES)

StreamId = Annotated[int, Path(ge=1, le=MAX_STREAM_ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _service(state: StateDep) -> StreamService:
    return StreamService(state.engine, state.settings)


@router.post("/v1/streams", status_code=201, summary="Register a live stream to monitor")
async def register_stream(body: StreamCreate, state: StateDep, _key: MatcherKey) -> StreamPublic:
    """Vets the URL (allowed schemes, public addresses), the stop URL, the options and the
    banks named (422/404/502 with the reason), stores the stream and lets a monitor claim it."""
    record = await run_in_threadpool(
        _service(state).register,
        body.url,
        name=body.name,
        stop_url=body.stop_url,
        options=body.options(),
    )
    return StreamPublic.of(record)


@router.get("/v1/streams", summary="List monitored streams")
async def list_streams(
    state: StateDep,
    _key: MatcherKey,
    status: StreamStatus | None = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_STREAM_ID)] = 0,
    limit: Limit = 100,
) -> StreamPage:
    """Streams with ``id > after_id``, oldest first, optionally of one ``status``."""
    records = await run_in_threadpool(
        _service(state).list_streams, status=status, after_id=after_id, limit=limit
    )
    items = [StreamPublic.of(r) for r in records]
    return StreamPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


@router.get("/v1/streams/{stream_id}", summary="Inspect a stream")
async def get_stream(stream_id: StreamId, state: StateDep, _key: MatcherKey) -> StreamPublic:
    """State, counters, options and the monitor that holds it."""
    return StreamPublic.of(await run_in_threadpool(_service(state).get, stream_id))


@router.post("/v1/streams/{stream_id}/stop", summary="Stop monitoring a stream")
async def stop_stream(stream_id: StreamId, state: StateDep, _key: MatcherKey) -> StreamPublic:
    """Its monitor stops it within a third of the lease (``stream_lease_seconds``); an
    unclaimed stream is ``stopped`` at once. Stopping a stopped stream changes nothing."""
    return StreamPublic.of(await run_in_threadpool(_service(state).stop, stream_id))


@router.get("/v1/streams/{stream_id}/alerts", summary="A stream's alerts")
async def list_stream_alerts(
    stream_id: StreamId,
    state: StateDep,
    _key: MatcherKey,
    after_id: Annotated[
        int, Query(ge=0, le=MAX_STREAM_ID, description="the last alert id seen")
    ] = 0,
    limit: Limit = 100,
) -> list[StreamAlertPublic]:
    """Alerts with ``id > after_id``, oldest first: bank entry, stream time, wall time, k of n,
    stop callback (page on with the last alert's id)."""
    alerts = await run_in_threadpool(
        _service(state).alerts, stream_id, after_id=after_id, limit=limit
    )
    return [StreamAlertPublic.of(a) for a in alerts]
