"""The retry loop every Hub call runs in: backoff for transient failures, waits for
rate limits that spend no attempt, final errors raised at once, counted per bucket."""

from __future__ import annotations

import logging

import pytest
from kinhub.hub.accounting import Accounting
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.ratelimit import API, RESOLVE, RateLimits
from kinhub.hub.retry import (
    Final,
    RateLimited,
    RetryPolicy,
    Transient,
    Verdict,
    call_with_retries,
)

from tests.hub.test_ratelimit import FakeTime


class Flaky:
    """Raises the given exceptions one call at a time, then returns ``"done"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Timeout(Exception):
    pass


class RateLimit(Exception):
    def __init__(self, wait: float | None, whole_bucket: bool) -> None:
        self.wait = wait
        self.whole_bucket = whole_bucket


def classify(exc: Exception) -> Verdict | None:
    if isinstance(exc, Timeout):
        return Transient(f"timed out ({exc})")
    if isinstance(exc, RateLimit):
        return RateLimited(wait=exc.wait, whole_bucket=exc.whole_bucket)
    if isinstance(exc, LookupError):
        return Final(RepoUnavailableError("org/x", "not_found", str(exc)))
    return None


def run(
    fn: Flaky, *, policy: RetryPolicy, t: FakeTime, bucket: str = API, cost: int = 1
) -> tuple[str, Accounting, RateLimits]:
    limits = RateLimits.for_plan(clock=t.clock, sleep=t.sleep)
    accounting = Accounting(limits)
    result = call_with_retries(
        fn,
        what="model_info org/x",
        repo_id="org/x",
        bucket=bucket,
        cost=cost,
        policy=policy,
        limits=limits,
        accounting=accounting,
        classify=classify,
        sleep=t.sleep,
    )
    return result, accounting, limits


def test_transient_failures_back_off_then_succeed(caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=3.0, max_attempts=5)
    fn = Flaky(Timeout("a"), Timeout("b"), Timeout("c"))
    with caplog.at_level(logging.INFO, logger="kinhub.hub.retry"):
        result, accounting, _ = run(fn, policy=policy, t=t, bucket=RESOLVE, cost=2)
    assert result == "done" and fn.calls == 4
    # Each try acquires the bucket `cost` times; each retry counts once.
    assert accounting.stats()["calls"] == {API: 0, RESOLVE: 8}
    assert accounting.stats()["retries"] == {API: 0, RESOLVE: 3}
    # Exponential backoff with ±25 % jitter, capped at max_delay_s.
    for attempt, slept in enumerate(t.slept, start=1):
        nominal = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
        assert 0.75 * nominal <= slept <= 1.25 * nominal
    levels = [r.levelno for r in caplog.records if "retrying" in r.getMessage()]
    assert levels == [logging.WARNING, logging.INFO, logging.INFO]
    assert "timed out (a); retrying (retry 1 of 4" in caplog.records[0].getMessage()


def test_attempts_run_out_into_a_hub_error_naming_the_last_reason() -> None:
    t = FakeTime()
    fn = Flaky(*(Timeout(str(i)) for i in range(10)))
    with pytest.raises(HubError, match=r"gave up after 3 attempts \(timed out \(2\)\)") as info:
        run(fn, policy=RetryPolicy(base_delay_s=0.0, max_attempts=3), t=t)
    assert info.value.repo_id == "org/x" and isinstance(info.value.__cause__, Timeout)
    assert fn.calls == 3


def test_a_final_verdict_is_raised_at_once_and_other_errors_pass_through() -> None:
    t = FakeTime()
    fn = Flaky(KeyError("gone"), Timeout("never reached"))
    with pytest.raises(RepoUnavailableError) as info:
        run(fn, policy=RetryPolicy(), t=t)
    assert isinstance(info.value.__cause__, KeyError) and fn.calls == 1 and t.slept == []
    own = RuntimeError("a bug, not the Hub")
    with pytest.raises(RuntimeError) as raised:
        run(Flaky(own), policy=RetryPolicy(), t=t)
    assert raised.value is own


def test_a_spent_window_pauses_the_bucket_without_spending_an_attempt() -> None:
    t = FakeTime()
    fn = Flaky(RateLimit(40.0, True), RateLimit(40.0, True))
    result, accounting, limits = run(fn, policy=RetryPolicy(max_attempts=1), t=t)
    assert result == "done" and fn.calls == 3
    assert accounting.stats()["retries"][API] == 2
    # Both waits went through the bucket (every thread waits), none through a sleep of
    # this call alone: the limiter slept them before the next acquisition.
    assert limits.api.waited_s == pytest.approx(80.0) and limits.resolve.waited_s == 0


def test_a_429_with_requests_left_backs_off_this_call_only() -> None:
    t = FakeTime()
    policy = RetryPolicy(base_delay_s=0.5, max_attempts=1)
    result, _, limits = run(Flaky(RateLimit(None, False)), policy=policy, t=t)
    assert result == "done" and limits.api.waited_s == 0
    assert len(t.slept) == 1 and 0.375 <= t.slept[0] <= 0.625


def test_a_reset_of_zero_still_waits_the_base_delay() -> None:
    t = FakeTime()
    _, _, limits = run(Flaky(RateLimit(0.0, True)), policy=RetryPolicy(base_delay_s=2.0), t=t)
    assert limits.api.waited_s == pytest.approx(2.0)


def test_rate_limit_waits_are_bounded() -> None:
    t = FakeTime()
    fn = Flaky(*(RateLimit(1.0, True) for _ in range(5)))
    with pytest.raises(HubError, match="still rate limited"):
        run(fn, policy=RetryPolicy(max_rate_limit_waits=3), t=t)
    assert fn.calls == 4
