"""Live-stream monitoring: sample frames of many live streams, match them, alert in seconds.

Layers, each in its own module (``docs/livestreams.md``, decision 0008):

* :mod:`.policy`: which stream URLs may be opened and the FFmpeg protocol allow-list;
* :mod:`.reader`: PyAV connection, decoding as little as the sampling needs;
* :mod:`.sampling`: regular samples by stream time plus scene-change samples;
* :mod:`.decision`: k matched samples of the last n, per bank;
* :mod:`.monitor`: one stream's life (reconnects with backoff, states, counters);
* :mod:`.alerts`: match event + webhooks (outbox), alert row, stop-stream callback;
* :mod:`.store` and :mod:`.pool`: streams in the database, claimed by monitor processes
  with a renewed lease.
"""

from safehold.livestreams.models import (
    Decision,
    StreamAlert,
    StreamConfig,
    StreamCounters,
    StreamState,
)
from safehold.livestreams.monitor import StreamMonitor
from safehold.livestreams.policy import StreamUrl, check_stream_url, parse_stream_url

__all__ = [
    "Decision",
    "StreamAlert",
    "StreamConfig",
    "StreamCounters",
    "StreamMonitor",
    "StreamState",
    "StreamUrl",
    "check_stream_url",
    "parse_stream_url",
]
