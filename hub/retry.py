"""The retry policy every Hub call follows: bounded exponential backoff for 5xx and
network errors, and waiting out the server's announced reset for 429s.

:func:`call_with_retries` runs one call under it.  What a failed attempt means is
decided by the caller (the client, which knows ``huggingface_hub``'s errors) as a
:data:`Verdict`: transient (back off and retry), rate limited (wait, then retry
without spending an attempt) or final (raise).  The first retry of a call is logged
as a WARNING, so an unreachable Hub is not silent at default verbosity, later ones at
INFO; likewise the first 429 wait of each bucket, then INFO.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kinhub.hub.accounting import Accounting
from kinhub.hub.errors import HubError, HubUnreachableError
from kinhub.hub.ratelimit import ANNOUNCE_WAIT_S, RateLimits

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff from ``base_delay_s`` for 5xx and network
    errors (``max_attempts`` tries in all); server rate limits wait out the announced
    reset, at most ``max_rate_limit_waits`` times per call."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_rate_limit_waits: int = 30
    # Wait when a 429 carries no usable reset time.
    default_rate_limit_wait_s: float = 10.0
    # False: retries are logged at DEBUG only (a quick probe whose caller reports).
    log_retries: bool = True

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), with ±25 % jitter."""
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return delay * random.uniform(0.75, 1.25)


@dataclass(frozen=True)
class Transient:
    """Worth another attempt after a backoff; ``reason`` says why, for the log.
    ``unreachable``: no connection to the endpoint at all (refused, unknown host) —
    when the attempts run out so, :class:`HubUnreachableError` is raised."""

    reason: str
    unreachable: bool = False


@dataclass(frozen=True)
class RateLimited:
    """A 429: wait ``wait`` seconds (None: none announced, back off briefly), for the
    whole bucket when ``whole_bucket`` (the window is spent), else this call only."""

    wait: float | None
    whole_bucket: bool


@dataclass(frozen=True)
class Final:
    """No retry can help: raise ``error`` (chained to what the attempt raised)."""

    error: Exception


Verdict = Transient | RateLimited | Final


def call_with_retries(
    fn: Callable[[], T],
    *,
    what: str,
    repo_id: str | None,
    bucket: str,
    cost: int,
    policy: RetryPolicy,
    limits: RateLimits,
    accounting: Accounting,
    classify: Callable[[Exception], Verdict | None],
    sleep: Callable[[float], None],
    endpoint: str = "",
) -> T:
    """``fn()`` once each attempt, after ``cost`` acquisitions of ``bucket``'s limiter,
    retried as ``classify`` judges what it raised (None: not a Hub failure, raise it).

    Raises:
        HubUnreachableError: every attempt failed to connect to ``endpoint``.
        HubError: attempts or rate-limit waits exhausted.
        Exception: a :class:`Final` verdict's error, or what ``classify`` left alone.
    """
    limiter = limits.bucket(bucket)
    attempt = 0
    waits = 0
    while True:
        for _ in range(cost):
            limiter.acquire()
        accounting.count_calls(bucket, cost)
        try:
            return fn()
        except Exception as exc:
            verdict = classify(exc)
            if verdict is None:
                raise
            if isinstance(verdict, Final):
                raise verdict.error from exc
            if isinstance(verdict, RateLimited):
                waits += 1
                if waits > policy.max_rate_limit_waits:
                    raise HubError(f"{what}: still rate limited", repo_id=repo_id) from exc
                if verdict.wait is None:
                    # r>0: not the quota; a short backoff, this call only.
                    wait = policy.backoff(min(waits, 8))
                else:
                    # A reset of 0 s still means "this window is spent": back off a little.
                    wait = max(verdict.wait, policy.base_delay_s)
                first = accounting.first_limit(bucket)
                long_wait = wait >= ANNOUNCE_WAIT_S
                logger.log(
                    # A long wait is announced by the limiter (whole bucket) or here.
                    logging.WARNING
                    if (first and not long_wait) or (long_wait and not verdict.whole_bucket)
                    else logging.INFO,
                    "%s: rate limited by the Hub (%s requests%s); waiting %.1fs",
                    what,
                    bucket,
                    "" if verdict.whole_bucket else ", requests remain in the window",
                    wait,
                )
                if verdict.whole_bucket:
                    limiter.pause(
                        wait,
                        why=f"{what}: the Hub answered 429, its {bucket} request window is spent",
                    )
                else:
                    sleep(wait)
                accounting.count_retry(bucket)
                continue
            error, reason = exc, verdict.reason
        attempt += 1
        if attempt >= policy.max_attempts and verdict.unreachable:
            raise HubUnreachableError(
                f"{what}: gave up after {attempt} attempts ({reason})",
                endpoint=endpoint,
                repo_id=repo_id,
            ) from error
        if attempt >= policy.max_attempts:
            raise HubError(
                f"{what}: gave up after {attempt} attempts ({reason})", repo_id=repo_id
            ) from error
        delay = policy.backoff(attempt)
        logger.log(
            logging.DEBUG
            if not policy.log_retries
            else logging.WARNING
            if attempt == 1
            else logging.INFO,
            "%s: %s; retrying (retry %d of %d, next in %.1fs)",
            what,
            reason,
            attempt,
            policy.max_attempts - 1,
            delay,
        )
        accounting.count_retry(bucket)
        sleep(delay)
