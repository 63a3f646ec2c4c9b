"""The client-side limiter: a sliding window per bucket, paused by server resets."""

from __future__ import annotations

import pytest
from kinhub.hub.ratelimit import PLAN_QUOTAS, BucketLimiter, Plan, RateLimits


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_quota_per_sliding_window() -> None:
    t = FakeTime()
    limiter = BucketLimiter("api", 3, window_s=10, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        assert limiter.acquire() == 0
        t.now += 1
    # The 4th request waits until the first leaves the window (sent at 100, now 103).
    assert limiter.acquire() == pytest.approx(7)
    assert t.now == pytest.approx(110)
    assert limiter.waited_s == pytest.approx(7)


def test_server_reset_pauses_the_bucket() -> None:
    t = FakeTime()
    limiter = BucketLimiter("resolve", None, clock=t.clock, sleep=t.sleep)
    assert limiter.acquire() == 0
    limiter.pause(12)
    limiter.pause(3)  # a shorter pause never shortens a longer one
    assert limiter.acquire() == pytest.approx(12)


def test_plans() -> None:
    assert PLAN_QUOTAS[Plan.anonymous] == (500, 3_000)
    limits = RateLimits.for_plan("pro")
    assert (limits.api.quota, limits.resolve.quota) == (2_500, 12_000)
    assert limits.bucket("resolve") is limits.resolve
    with pytest.raises(ValueError):
        BucketLimiter("api", 0)
