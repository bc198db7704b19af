"""Per-key request budgets: a token bucket per API key, in process memory.

Each key may make ``burst`` requests at once and then ``rate`` per second (the classic token
bucket, e.g. Tanenbaum, *Computer Networks*, 5th ed., section 5.4.2). ``safehold serve`` runs
several worker processes and each keeps its own buckets with the key's whole budget: a client on
one keep-alive connection (one worker) gets exactly its limit, and one spreading requests over
many connections at most ``workers`` times it. (Dividing the budget by the number of workers
refused a single connection's traffic well within its limit, which is worse in an upload path
than letting a burst through.) The limiter never touches the database: it costs nothing on the
request path beyond a dictionary look-up under a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from safehold.errors import RateLimitedError


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by API key id.

    A key with its own ``rate`` may burst one second's worth of it (at most ``default_burst``);
    other keys get ``default_rate`` and ``default_burst``.

    Args:
        default_rate: requests per second for keys without their own rate (> 0).
        default_burst: bucket size for every key (>= 1).
        share: fraction of each rate and burst this process enforces (the service uses 1).
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        default_rate: float,
        default_burst: int,
        *,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default_rate = default_rate
        self.default_burst = default_burst
        self.share = share
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, key_id: int, rate: float | None = None) -> None:
        """Take one token for ``key_id``.

        Args:
            rate: the key's own requests per second, or None for the default.

        Raises:
            RateLimitedError: the bucket is empty; ``retry_after`` is the seconds until a
                token is back (at least 1, as HTTP ``Retry-After`` takes whole seconds).
        """
        per_second = (rate if rate is not None else self.default_rate) * self.share
        # A key with its own rate may burst one second of it (never above the default burst).
        own_burst = self.default_burst if rate is None else min(self.default_burst, rate)
        burst = max(1.0, own_burst * self.share)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * per_second)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / per_second if per_second > 0 else 60.0
        raise RateLimitedError(
            f"rate limit of {per_second / self.share:g} requests per second exceeded; retry later",
            retry_after=wait,
        )
