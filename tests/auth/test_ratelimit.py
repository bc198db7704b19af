"""Token buckets per key, driven by a fake clock."""

from __future__ import annotations

import pytest

from safehold.auth import RateLimiter
from safehold.errors import RateLimitedError


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=2.0, default_burst=3, clock=clock)
    for _ in range(3):
        limiter.check(1)
    with pytest.raises(RateLimitedError) as refused:
        limiter.check(1)
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.http_status == 429
    clock.now += 0.5  # one token back at 2 per second
    limiter.check(1)
    with pytest.raises(RateLimitedError):
        limiter.check(1)


def test_keys_have_separate_buckets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=1.0, default_burst=1, clock=clock)
    limiter.check(1)
    with pytest.raises(RateLimitedError):
        limiter.check(1)
    limiter.check(2)  # another key is unaffected


def test_own_rate_bursts_one_second_of_it() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=1000.0, default_burst=2000, clock=clock)
    for _ in range(5):
        limiter.check(7, rate=5.0)
    with pytest.raises(RateLimitedError) as refused:
        limiter.check(7, rate=5.0)
    assert refused.value.retry_after == pytest.approx(0.2)
    assert "5 requests per second" in refused.value.message


def test_share_splits_the_budget_between_workers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(default_rate=10.0, default_burst=10, share=0.5, clock=clock)
    for _ in range(5):
        limiter.check(1)
    with pytest.raises(RateLimitedError) as refused:
        limiter.check(1)
    assert refused.value.retry_after == pytest.approx(0.2)  # 5 per second in this worker
    assert "10 requests per second" in refused.value.message  # the configured total
