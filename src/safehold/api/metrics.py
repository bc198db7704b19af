"""Prometheus metrics of the HTTP service: what operators watch and alert on.

Three kinds of numbers, all served by ``GET /metrics`` (``routes/metrics.py``):

* request metrics, recorded by :class:`RequestMetricsMiddleware` on every request:
  ``safehold_http_requests_total{route, method, status}`` and the latency histogram
  ``safehold_http_request_duration_seconds{route, method}``. ``route`` is the route template
  (``/v1/banks/{bank_name}``), never the raw path, so label values stay bounded; paths that match
  no route count as ``unmatched``.
* match events, counted where the service records them (:class:`CountingActionService`):
  ``safehold_match_events_total{signal_type, origin}`` (no bank names or hashes).
* state read when scraped (:class:`ServiceCollector`): the index (ready, change sequence, entries
  per signal type, seconds since the last refresh) of the worker that answers the scrape, and the
  webhook outbox (pending and dead deliveries, one query).

``safehold serve`` runs several worker processes and sets ``PROMETHEUS_MULTIPROC_DIR``: each
worker then writes its counters to files there and a scrape of any worker adds them all up
(prometheus_client's multiprocess mode,
https://prometheus.github.io/client_python/multiprocess/). prometheus_client picks the mode when
it is first imported, so the variable must be set before; without it (tests, one process) the
counters live in this module's registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safehold.actions import ActionService
from safehold.api.exchange_metrics import exchange_metrics
from safehold.api.stream_metrics import stream_metrics
from safehold.banks.rows import db_errors
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import outbox, utcnow

if TYPE_CHECKING:
    from safehold.api.state import ServiceState

#: Whether prometheus_client writes values to ``PROMETHEUS_MULTIPROC_DIR`` (decided at import).
MULTIPROCESS: bool = values.ValueClass is not values.MutexValue

#: ``route`` label of requests whose path matches no route (unknown paths, probes).
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Latency buckets, seconds: fine below 20 ms (the match-by-hash p99 target), coarse above.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Counters of this process (plain mode; in multiprocess mode the files are read instead).
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "safehold_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "safehold_http_request_duration_seconds",
    "Time from receiving a request to sending the last byte of its response, by route.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MATCH_EVENTS = Counter(
    "safehold_match_events",
    "Match events recorded by the service, by signal type and origin (api, hma, ...).",
    ["signal_type", "origin"],
    registry=REGISTRY,
)

_OUTBOX_STATUSES = ("pending", "dead")


class RequestMetricsMiddleware:
    """Pure ASGI middleware counting requests and timing them (it is on the hot path).

    The route template comes from ``scope["route"]``, which the router fills in; the labelled
    children are cached per (route, method, status), so a request costs two dictionary look-ups,
    a counter increment and a histogram observation.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then record it (also when the app raised: status 500)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        method = scope.get("method", "GET")
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            shown = method if method in _METHODS else "other"
            children = (
                REQUESTS.labels(route, shown, str(status)),
                LATENCY.labels(route, shown),
            )
            if len(self._children) < 10_000:  # bounded even if something unexpected varies
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class CountingActionService(ActionService):
    """:class:`~safehold.actions.ActionService` that also counts the match events it records."""

    def record_matches(
        self,
        matches: Sequence[MatchInfo],
        *,
        content_ref: str,
        origin: str,
        api_key_id: int | None,
    ) -> list[int]:
        """As :meth:`ActionService.record_matches`; adds to ``safehold_match_events_total``."""
        ids = super().record_matches(
            matches, content_ref=content_ref, origin=origin, api_key_id=api_key_id
        )
        if ids:
            counts: dict[str, int] = {}
            for match in matches:
                counts[match.signal_type] = counts.get(match.signal_type, 0) + 1
            if len(ids) == len(matches):
                for signal_type, count in counts.items():
                    MATCH_EVENTS.labels(signal_type, origin).inc(count)
            else:  # some matches named a bank deleted meanwhile: count what was recorded
                MATCH_EVENTS.labels("unknown", origin).inc(len(ids))
        return ids


class ServiceCollector(Collector):
    """Gauges read at scrape time from one worker's state: its index and the outbox."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """Yield the index and outbox gauges (the outbox costs one grouped count query)."""
        status = self.state.matcher.status()
        ready = GaugeMetricFamily(
            "safehold_index_ready", "1 when this worker's index is loaded and matching, else 0."
        )
        ready.add_metric([], 1.0 if status.ready else 0.0)
        yield ready
        seq = GaugeMetricFamily(
            "safehold_index_change_seq",
            "Last bank change applied to this worker's index (the bank change log's sequence).",
        )
        seq.add_metric([], float(status.change_seq))
        yield seq
        entries = GaugeMetricFamily(
            "safehold_index_entries",
            "Entries in this worker's index, by signal type.",
            labels=["signal_type"],
        )
        for signal_type, count in sorted(status.entries.items()):
            entries.add_metric([signal_type], float(count))
        yield entries
        age = GaugeMetricFamily(
            "safehold_index_refresh_age_seconds",
            "Seconds since this worker's index last checked the bank change log.",
        )
        seconds = status.seconds_since_refresh
        age.add_metric([], float("nan") if seconds is None else float(seconds))
        yield age
        with db_errors(), self.state.engine.connect() as c:
            rows = c.execute(
                select(outbox.c.status, func.count())
                .where(outbox.c.status.in_(_OUTBOX_STATUSES))
                .group_by(outbox.c.status)
            ).all()
        counts = {row[0]: int(row[1]) for row in rows}
        deliveries = GaugeMetricFamily(
            "safehold_outbox_deliveries",
            "Webhook deliveries waiting (pending) or given up after every attempt (dead).",
            labels=["status"],
        )
        for name in _OUTBOX_STATUSES:
            deliveries.add_metric([name], float(counts.get(name, 0)))
        yield deliveries
        yield from exchange_metrics(self.state.exchanges.statuses(), utcnow())
        yield from stream_metrics(self.state.streams)


class _Scrape(Collector):
    """Every metric one scrape serves: all workers' counters plus this worker's gauges."""

    def __init__(self, state: ServiceState) -> None:
        self.service = ServiceCollector(state)

    def collect(self) -> Iterator[Metric]:
        if MULTIPROCESS:
            yield from MultiProcessCollector(None).collect()  # type: ignore[no-untyped-call]
        else:
            yield from REGISTRY.collect()
        yield from self.service.collect()


def render(state: ServiceState) -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type.

    Raises:
        StorageError: the outbox query failed.
    """
    return generate_latest(_Scrape(state)), CONTENT_TYPE_LATEST
