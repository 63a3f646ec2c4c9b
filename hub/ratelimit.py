"""Client-side rate limiting for the Hub's two request buckets (``api``, ``resolve``).

The Hub counts requests in fixed 5-minute windows per policy (HUB_PROTOCOL.md):
``api`` for API calls, ``resolvers`` for file resolution — ``/resolve/`` *and* the
``/api/resolve-cache/`` it redirects small files to — and ``pages`` for web pages
(kinhub requests none).  ``resolve`` here is the ``resolvers`` policy.
Each bucket here is a sliding-window log: at most ``quota`` requests in any
``window_s`` seconds, which keeps us inside every fixed window the server may
align differently.  When the server still answers 429, its ``RateLimit`` reset
time pauses the whole bucket (every thread), not just the request that saw it.

How the server's answers are read (:func:`server_wait`): ``RateLimit`` headers come
on every answer.  A bucket pauses only when they say its window is spent (``r=0``),
for the ``t`` they announce; a 429 with ``r>0`` is retried after a short backoff (or
its ``Retry-After``), never after ``t`` — the same rule ``huggingface_hub`` follows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

logger = logging.getLogger(__name__)

API = "api"
RESOLVE = "resolve"
BUCKETS = (API, RESOLVE)
HUB_WINDOW_S = 300.0
# The Hub's policy names (RateLimit headers) → kinhub's buckets.
POLICY_BUCKETS = {"api": API, "resolvers": RESOLVE}
RESOLVE_CACHE_PREFIX = "/api/resolve-cache/"
# A rate-limit wait at least this long is announced as a WARNING (default verbosity),
# with its reason and length; shorter ones are logged at DEBUG/INFO.
ANNOUNCE_WAIT_S = 5.0


def bucket_of(*, path: str, policy: str | None = None) -> str:
    """The bucket a request counts against: the policy its answer names, else its path
    (``/resolve/`` and ``/api/resolve-cache/`` are resolver requests)."""
    if policy in POLICY_BUCKETS:
        return POLICY_BUCKETS[policy]
    if "/resolve/" in path or path.startswith(RESOLVE_CACHE_PREFIX):
        return RESOLVE
    return API


class RateLimitHeader(Protocol):
    """A parsed ``RateLimit`` header (``huggingface_hub``'s ``RateLimitInfo``): the
    policy it is about, the requests left in its window and seconds to its reset."""

    @property
    def resource_type(self) -> str: ...

    @property
    def remaining(self) -> int: ...

    @property
    def reset_in_seconds(self) -> int: ...


def spent_window(info: RateLimitHeader | None) -> tuple[str, float] | None:
    """The bucket an answer says is spent (``r=0``) and the seconds until its window
    resets (``t``); None when the answer says nothing, requests remain, or the policy
    is one kinhub does not spend from (``pages``)."""
    if info is None or info.remaining != 0 or info.resource_type not in POLICY_BUCKETS:
        return None
    return POLICY_BUCKETS[info.resource_type], float(info.reset_in_seconds)


def server_wait(info: RateLimitHeader | None, *, retry_after: str) -> tuple[float | None, bool]:
    """How long a 429 asks us to wait, and whether that holds for the whole bucket.

    ``RateLimit`` with ``r=0``: the window is spent, wait its reset ``t`` (every thread).
    Else a numeric ``Retry-After``.  A 429 whose header still shows requests remaining
    (``r>0``) does not mean the quota is used up — its ``t`` is just the window's end,
    possibly minutes away — so it gives no wait (None: back off briefly and retry).
    """
    if info is not None and info.remaining == 0:
        return float(info.reset_in_seconds), True
    if retry_after.strip().isdigit():
        return float(retry_after), True
    return None, False


class Plan(StrEnum):
    """The Hub account tier, which sets the quotas per 5-minute window."""

    anonymous = "anonymous"
    free = "free"
    pro = "pro"


# Requests per 5-minute window: (api, resolve), as documented by the Hub.
PLAN_QUOTAS: dict[Plan, tuple[int, int]] = {
    Plan.anonymous: (500, 3_000),
    Plan.free: (1_000, 5_000),
    Plan.pro: (2_500, 12_000),
}


class BucketLimiter:
    """At most ``quota`` acquisitions in any ``window_s`` seconds; thread-safe.

    ``quota=None`` never waits (used by benchmarks that measure raw throughput).
    ``clock``/``sleep`` are injectable so tests need not wait for real.
    """

    def __init__(
        self,
        name: str,
        quota: int | None,
        *,
        window_s: float = HUB_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        plan: str | None = None,
    ) -> None:
        if quota is not None and quota < 1:
            raise ValueError("quota must be positive")
        if window_s <= 0:
            raise ValueError("window must be positive")
        self.name = name
        self.quota = quota
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._announced_until = 0.0
        self.plan = plan
        self.waited_s = 0.0

    def _announce(self, now: float, delay: float, why: str) -> None:
        """One WARNING per long wait (not one per waiting thread).  Call under the lock."""
        if delay < ANNOUNCE_WAIT_S or now + delay <= self._announced_until + 1.0:
            return
        self._announced_until = now + delay
        logger.warning("Hub rate limit: %s; waiting %.0fs", why, delay)

    def _quota_reason(self) -> str:
        plan = f"the {self.plan} plan's" if self.plan else "the"
        return (
            f"{plan} quota of {self.quota} {self.name} requests per {self.window_s:.0f}s is used up"
        )

    def _delay(self, now: float) -> float:
        """Seconds until a request may go out (0 when it may go now)."""
        delay = max(0.0, self._paused_until - now)
        if self.quota is None:
            return delay
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        if len(self._sent) >= self.quota:
            delay = max(delay, self._sent[0] + self.window_s - now)
        return delay

    def acquire(self) -> float:
        """Block until one request may be sent and count it; returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    if self.quota is not None:
                        self._sent.append(now)
                    self.waited_s += waited
                    return waited
                if now >= self._paused_until:  # the client's own quota, not a server pause
                    self._announce(now, delay, self._quota_reason())
            logger.debug("bucket %s: waiting %.2fs", self.name, delay)
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float, *, why: str = "") -> None:
        """The server said the window is spent: send nothing for ``seconds`` (a long
        pause is announced with ``why``)."""
        with self._lock:
            now = self._clock()
            until = now + max(0.0, seconds)
            if until > self._paused_until:
                logger.info("bucket %s rate limited by the server for %.1fs", self.name, seconds)
                self._paused_until = until
                reason = why or f"the Hub says its {self.name} request window is spent"
                self._announce(now, seconds, reason)


@dataclass
class RateLimits:
    """One limiter per bucket."""

    api: BucketLimiter
    resolve: BucketLimiter

    @classmethod
    def for_plan(
        cls,
        plan: Plan | str = Plan.anonymous,
        *,
        window_s: float = HUB_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateLimits:
        """Limiters sized for ``plan``; ``window_s`` may be shortened (tests)."""
        plan = Plan(plan)
        api_quota, resolve_quota = PLAN_QUOTAS[plan]
        return cls(
            api=BucketLimiter(
                API, api_quota, window_s=window_s, clock=clock, sleep=sleep, plan=plan.value
            ),
            resolve=BucketLimiter(
                RESOLVE, resolve_quota, window_s=window_s, clock=clock, sleep=sleep, plan=plan.value
            ),
        )

    @classmethod
    def for_hub(cls, endpoint: str | None, plan: Plan | str | None = None) -> RateLimits:
        """The quotas the Hub at ``endpoint`` (None: ``HF_ENDPOINT`` now) has for
        ``plan`` (None: anonymous): the plan's on huggingface.co; none client-side
        on any other endpoint (an emulator, mirror or private Hub keeps its own, and
        its 429 answers are still honoured)."""
        from kinhub.hub.config import is_public_hub

        if is_public_hub(endpoint):
            return cls.for_plan(plan or Plan.anonymous)
        return cls.unlimited()

    @classmethod
    def unlimited(cls) -> RateLimits:
        """No client-side quota (server 429s are still honoured)."""
        return cls(api=BucketLimiter(API, None), resolve=BucketLimiter(RESOLVE, None))

    def bucket(self, name: str) -> BucketLimiter:
        return self.api if name == API else self.resolve
