"""Prometheus metrics of exchanges, read from the database at scrape time.

Label ``exchange`` is the exchange's name (chosen by an administrator, bounded in number).
Served by ``GET /metrics`` through :class:`~safehold.api.metrics.ServiceCollector`; every worker
reports the same values (they come from the shared database, not from one worker's memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from safehold.exchanges.models import ExchangeStatus

_NAN = float("nan")


def _time(value: datetime | None) -> float:
    return _NAN if value is None else value.timestamp()


def _gauges(now: datetime) -> dict[str, tuple[str, Callable[[ExchangeStatus], float]]]:
    def lag(s: ExchangeStatus) -> float:
        seconds = s.lag_seconds(now)
        return _NAN if seconds is None else seconds

    return {
        "enabled": (
            "1 when the exchange is fetched on schedule, else 0.",
            lambda s: float(s.exchange.enabled),
        ),
        "last_success_timestamp_seconds": (
            "Unix time of the last successful fetch (NaN: never).",
            lambda s: _time(s.last_success_at),
        ),
        "last_attempt_timestamp_seconds": (
            "Unix time of the last fetch started (NaN: never).",
            lambda s: _time(s.last_attempt_at),
        ),
        "lag_seconds": (
            "Seconds since the source time up to which the bank is complete "
            "(NaN: no complete fetch yet).",
            lag,
        ),
        "consecutive_failures": (
            "Failed fetches since the last success.",
            lambda s: float(s.failures),
        ),
        "records": (
            "Source-record signals the exchange holds now.",
            lambda s: float(s.records),
        ),
    }


_COUNTERS: dict[str, tuple[str, Callable[[ExchangeStatus], int]]] = {
    "record_updates": ("Record updates applied.", lambda s: s.records_total),
    "entries_added": ("Bank entries the exchange added.", lambda s: s.added_total),
    "entries_removed": ("Bank entries the exchange removed.", lambda s: s.removed_total),
    "skipped": ("Records or signals skipped as unusable.", lambda s: s.skipped_total),
}


def exchange_metrics(statuses: Sequence[ExchangeStatus], now: datetime) -> Iterator[Metric]:
    """Yield the exchange gauges and counters for ``statuses`` (``now``: for the lag):
    ``safehold_exchange_{enabled, last_success_timestamp_seconds,
    last_attempt_timestamp_seconds, lag_seconds, consecutive_failures, records}`` and the
    counters ``safehold_exchange_{record_updates, entries_added, entries_removed,
    skipped}_total``."""
    for suffix, (doc, value) in _gauges(now).items():
        gauge = GaugeMetricFamily(f"safehold_exchange_{suffix}", doc, labels=["exchange"])
        for s in statuses:
            gauge.add_metric([s.exchange.name], value(s))
        yield gauge
    for suffix, (doc, count) in _COUNTERS.items():
        counter = CounterMetricFamily(f"safehold_exchange_{suffix}", doc, labels=["exchange"])
        for s in statuses:
            counter.add_metric([s.exchange.name], float(count(s)))
        yield counter
