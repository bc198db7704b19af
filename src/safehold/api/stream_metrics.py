"""``/metrics`` for live-stream monitoring: streams per state and totals, from the database.

Read at scrape time with one grouped query over ``streams`` (every monitor process reports
its streams there), so any worker answers for the whole deployment and the label set stays
small: the state only, never a stream id or URL.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from safehold.livestreams.store import StreamStore

_TOTALS = {
    "frames_sampled": "Frames of live streams sampled and hashed.",
    "alerts": "Stream alerts raised (k of n samples matched a bank).",
    "decode_errors": "Stream packets the decoder refused (damaged or garbage data).",
    "reconnects": "Stream reconnections after a failed open, a stall or a broken connection.",
    "stream_seconds": "Seconds of stream time monitored.",
}


def stream_metrics(store: StreamStore) -> Iterator[Metric]:
    """Yield ``safehold_streams{state}`` and ``safehold_stream_<total>_total`` counters.

    Raises:
        StorageError: the query failed.
    """
    counts, totals = store.summary()
    states = GaugeMetricFamily(
        "safehold_streams", "Registered live streams, by monitor state.", labels=["state"]
    )
    for state, count in sorted(counts.items()):
        states.add_metric([state], float(count))
    yield states
    for name, text in _TOTALS.items():
        counter = CounterMetricFamily(f"safehold_stream_{name}", text)
        counter.add_metric([], totals[name])
        yield counter
