"""A monitor process's pool: claim registered streams, run each in its own thread, report.

One :class:`MonitorPool` per process (a service worker or ``safehold stream monitor``) runs
up to ``stream_max_per_process`` streams, one thread each (FFmpeg decodes without the GIL,
so threads share the cores; one stream that hangs or fails touches no other). Every
``stream_lease_seconds / 3`` the pool claims free streams (:meth:`StreamStore.claim`),
writes each running stream's state and counters while renewing its lease
(:meth:`StreamStore.report`), stops the streams asked to stop or whose lease was lost, and
releases finished ones with their final state. Several processes per machine, or machines,
share the streams through the database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from safehold.errors import SafeholdError
from safehold.livestreams.alerts import AlertRecorder
from safehold.livestreams.models import StreamAlert, StreamCounters, StreamState
from safehold.livestreams.monitor import Matcher, StreamMonitor
from safehold.livestreams.policy import check_stream_url
from safehold.livestreams.store import StreamRecord, StreamStore, config_of
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings

log = logging.getLogger(__name__)

#: ``match({"pdq": signal}, bank_names=[...])``: :meth:`LiveMatcher.match`'s shape.
BankMatcher = Callable[..., list[MatchInfo]]


@dataclass
class Running:
    """A stream this pool runs: its record, monitor and thread."""

    record: StreamRecord
    monitor: StreamMonitor
    thread: threading.Thread
    #: The database said stop (a stop request, or the lease went to another monitor).
    told_to_stop: bool = False

    def totals(self) -> StreamCounters:
        """The stream's counters over every monitor that ran it: the totals stored when this
        pool claimed it plus this monitor's (a stream taken over after a crash keeps its
        alert count equal to its alert rows). ``stream_seconds`` is this run's position."""
        run, stored = self.monitor.counters, self.record
        return replace(
            run,
            frames_sampled=stored.frames_sampled + run.frames_sampled,
            alerts=stored.alerts + run.alerts,
            decode_errors=stored.decode_errors + run.decode_errors,
            reconnects=stored.reconnects + run.reconnects,
        )


class MonitorPool:
    """Runs the streams this process claims.

    Args:
        store: the stream tables.
        recorder: records alerts.
        match: matches one PDQ signal (restricted to a stream's banks by the pool).
        settings: lease, per-process bound, monitor settings.
        only: claim only these stream ids (``safehold stream watch``); None: any stream.
        worker_id: recorded in ``claimed_by`` (default host:pid:random).
    """

    def __init__(
        self,
        store: StreamStore,
        recorder: AlertRecorder,
        match: BankMatcher,
        settings: Settings,
        *,
        only: frozenset[int] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.match = match
        self.settings = settings
        self.worker_id = (
            worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )[:100]
        self.lease = settings.stream_lease_seconds
        self.only = only
        self.running: dict[int, Running] = {}
        self.finished: dict[int, Running] = {}

    def run_once(self) -> None:
        """Report on running streams, release finished ones, claim new ones."""
        for stream_id, run in list(self.running.items()):
            done = not run.thread.is_alive()
            monitor = run.monitor
            keep = self.store.report(
                stream_id,
                self.worker_id,
                self.lease,
                state=monitor.state,
                counters=run.totals(),
                last_error=monitor.last_error,
                release=done,
            )
            if done:
                self.finished[stream_id] = self.running.pop(stream_id)
            elif not keep:
                run.told_to_stop = True
                monitor.stop.set()
        room = self.settings.stream_max_per_process - len(self.running)
        if room > 0:
            for record in self.store.claim(self.worker_id, self.lease, room, only=self.only):
                self._start(record)

    def _start(self, record: StreamRecord) -> None:
        stream_id = record.id
        try:
            checked = check_stream_url(record.url, self.settings)
            config = config_of(record, self.settings)
        except SafeholdError as exc:  # e.g. the host now resolves to a private address
            log.warning("stream %d refused: %s", stream_id, exc.message)
            self.store.report(
                stream_id,
                self.worker_id,
                self.lease,
                state=StreamState.FAILED,
                counters=StreamCounters(),
                last_error=exc.message,
                release=True,
            )
            return
        banks = list(config.banks)
        match: Matcher = lambda signal: self.match({"pdq": signal}, bank_names=banks)  # noqa: E731

        def on_alert(alert: StreamAlert) -> None:
            self.recorder.record(stream_id, alert, name=record.name, stop_url=record.stop_url)

        monitor = StreamMonitor(
            checked.url, checked.whitelist, config, self.settings, match=match, on_alert=on_alert
        )
        thread = threading.Thread(
            target=monitor.run, name=f"safehold-stream-{stream_id}", daemon=True
        )
        self.running[stream_id] = Running(record, monitor, thread)
        thread.start()
        log.info("monitoring stream %d (%s)", stream_id, checked.display)

    def run_forever(self, stop: threading.Event, poll_s: float | None = None) -> None:
        """Run :meth:`run_once` every ``poll_s`` seconds (default a third of the lease) until
        ``stop`` is set, then stop every stream and release it. Never raises."""
        interval = poll_s if poll_s is not None else self.lease / 3
        while not stop.is_set():
            try:
                self.run_once()
            except SafeholdError as exc:
                log.warning("stream pool pass failed: %s", exc.message)
            except Exception:
                log.exception("stream pool pass failed")
            stop.wait(interval)
        self.shutdown()

    def shutdown(self, timeout: float = 10.0, *, hand_over: bool = True) -> None:
        """Stop every running stream and release it.

        A stream that ended or failed keeps that state. Otherwise, with ``hand_over`` (a
        service worker or ``stream monitor`` shutting down: a deploy, a restart) it goes back
        to ``pending`` so another monitor takes it over at once; without it (``stream watch``
        ending), or when the database asked for the stop, it is ``stopped``.
        """
        for run in self.running.values():
            run.monitor.stop.set()
        for stream_id, run in list(self.running.items()):
            run.thread.join(timeout)
            state = run.monitor.state
            if state in (StreamState.ENDED, StreamState.FAILED):
                pass
            elif hand_over and not run.told_to_stop:
                state = StreamState.PENDING
            else:
                state = StreamState.STOPPED
            try:
                self.store.report(
                    stream_id,
                    self.worker_id,
                    self.lease,
                    state=state,
                    counters=run.totals(),
                    last_error=run.monitor.last_error,
                    release=True,
                )
            except SafeholdError as exc:
                log.warning("releasing stream %d failed: %s", stream_id, exc.message)
            self.finished[stream_id] = self.running.pop(stream_id)


def start_monitor_pool(
    pool: MonitorPool, stop: threading.Event, *, poll_s: float | None = None
) -> threading.Thread:
    """Run ``pool`` in a daemon thread until ``stop`` is set (each service worker starts one
    when ``stream_monitor_in_service`` is on); return the thread."""
    thread = threading.Thread(
        target=pool.run_forever, args=(stop, poll_s), name="safehold-streams", daemon=True
    )
    thread.start()
    return thread
