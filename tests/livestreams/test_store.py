"""Streams in the database: one owner at a time through the lease, take-over after it runs
out, stop requests reaching the owner, totals for /metrics."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import cast

from sqlalchemy import Engine, insert

from safehold.livestreams.models import StreamConfig, StreamCounters, StreamState
from safehold.livestreams.monitor import StreamMonitor
from safehold.livestreams.pool import Running
from safehold.livestreams.store import StreamStore
from safehold.settings import Settings
from safehold.storage.tables import stream_alerts


def _alert_rows(engine: Engine, stream_id: int, count: int) -> None:
    """Write ``count`` alert rows for ``stream_id`` (what an alert leaves in the database)."""
    rows = [
        {"stream_id": stream_id, "bank_id": 1, "entry_id": 1, "distance": 0,
         "stream_seconds": float(i), "matched_frames": 2, "window": 4}
        for i in range(count)
    ]  # fmt: skip
    with engine.begin() as c:
        c.execute(insert(stream_alerts), rows)


def test_one_owner_at_a_time_and_take_over_after_the_lease(
    clean_streams: Engine, db_settings: Settings
) -> None:
    store = StreamStore(clean_streams)
    config = StreamConfig.from_settings(db_settings)
    ids = [store.register(f"http://93.184.216.34/{i}.m3u8", config).id for i in range(3)]

    first = store.claim("monitor-a", 3.0, 2)
    second = store.claim("monitor-b", 30.0, 5)

    assert [r.id for r in first] == ids[:2]
    assert [r.id for r in second] == ids[2:]  # a's two are held
    assert store.claim("monitor-b", 30.0, 5) == []
    time.sleep(3.1)  # a never renews: its leases run out
    taken = store.claim("monitor-b", 30.0, 5)
    assert [r.id for r in taken] == ids[:2]
    assert all(r.claimed_by == "monitor-b" for r in taken)
    # a's late report finds the stream gone: it must stop
    counters = StreamCounters(frames_sampled=5)
    report = store.report(
        ids[0], "monitor-a", 0.5, state=StreamState.LIVE, counters=counters, last_error=None
    )
    assert report is False


def test_stop_requests_reach_the_owner_and_final_states_are_kept(
    clean_streams: Engine, db_settings: Settings
) -> None:
    store = StreamStore(clean_streams)
    config = StreamConfig.from_settings(db_settings)
    held = store.register("http://93.184.216.34/a.m3u8", config, name="held")
    free = store.register("http://93.184.216.34/b.m3u8", config, name="free")
    store.claim("m", 30.0, 1, only=frozenset({held.id}))
    live = StreamCounters(frames_sampled=7, alerts=1, decode_errors=2, reconnects=3)
    live.stream_seconds = 12.5
    _alert_rows(clean_streams, held.id, 1)
    assert store.report(held.id, "m", 30.0, state=StreamState.LIVE, counters=live, last_error=None)

    assert store.request_stop(free.id).status == "stopped"  # nobody held it
    assert store.request_stop(held.id).status == "live"  # its owner stops it
    assert not store.report(
        held.id, "m", 30.0, state=StreamState.LIVE, counters=live, last_error=None
    )
    store.report(
        held.id, "m", 30.0, state=StreamState.STOPPED, counters=live, last_error=None, release=True
    )

    counts, totals = store.summary()
    assert counts["stopped"] == 2
    assert counts["live"] == 0
    assert totals == {
        "frames_sampled": 7.0,
        "alerts": 1.0,
        "decode_errors": 2.0,
        "reconnects": 3.0,
        "stream_seconds": 12.5,
    }
    assert store.claim("m", 30.0, 5) == []  # stopped streams are never claimed again


def test_a_stream_taken_over_keeps_counting_from_its_stored_totals(
    clean_streams: Engine, db_settings: Settings
) -> None:
    """After a monitor dies, the next one adds to the stored totals instead of overwriting them,
    and the stored alert count is the stream's alert rows, whatever the monitors counted (one
    killed between an alert and its next report never told anyone)."""
    store = StreamStore(clean_streams)
    stream = store.register("http://93.184.216.34/a.m3u8", StreamConfig.from_settings(db_settings))
    store.claim("monitor-a", 0.5, 1)
    _alert_rows(clean_streams, stream.id, 2)
    before = StreamCounters(frames_sampled=10, alerts=2, decode_errors=1, reconnects=0)
    store.report(stream.id, "monitor-a", 0.5, state=StreamState.LIVE, counters=before,
                 last_error=None)  # fmt: skip
    time.sleep(0.6)  # monitor-a dies: its lease runs out
    [record] = store.claim("monitor-b", 30.0, 1)
    monitor = SimpleNamespace(counters=StreamCounters(frames_sampled=4, alerts=1, reconnects=1))
    running = Running(record, cast(StreamMonitor, monitor), threading.Thread())

    totals = running.totals()
    _alert_rows(clean_streams, stream.id, 2)  # one more than monitor-b counted: a late row
    store.report(stream.id, "monitor-b", 30.0, state=StreamState.LIVE, counters=totals,
                 last_error=None)  # fmt: skip

    stored = store.get(stream.id)
    assert (stored.frames_sampled, stored.alerts, stored.decode_errors, stored.reconnects) == (
        14,
        4,
        1,
        1,
    )


def test_alerts_page_on_by_the_last_alert_id(clean_streams: Engine, db_settings: Settings) -> None:
    store = StreamStore(clean_streams)
    stream = store.register("http://93.184.216.34/a.m3u8", StreamConfig.from_settings(db_settings))
    _alert_rows(clean_streams, stream.id, 5)

    first = store.list_alerts(stream.id, limit=3)
    rest = store.list_alerts(stream.id, after_id=first[-1].id, limit=3)

    assert [a.stream_seconds for a in first] == [0.0, 1.0, 2.0]
    assert [a.stream_seconds for a in rest] == [3.0, 4.0]
    assert store.list_alerts(stream.id, after_id=rest[-1].id) == []
