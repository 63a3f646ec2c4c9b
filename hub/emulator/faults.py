"""Rate limiting (fixed windows per bucket) and seeded fault injection.

Both are decided before a request is routed; ``/_emulator/*`` never reaches
them.  The clock is injectable so tests can use short windows.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

BUCKETS = ("api", "resolve")


class Fault(StrEnum):
    """What an injected fault does to a request."""

    TOO_MANY = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    RESET = "reset"  # connection closed with a TCP reset, no response
    TRUNCATED = "truncated"  # Content-Length larger than the body, then close


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one rate-limit check."""

    allowed: bool
    remaining: int
    reset_s: int  # whole seconds until the window ends (at least 1 when refused)
    quota: int
    window_s: float

    def headers(self, bucket: str) -> dict[str, str]:
        """``RateLimit`` / ``RateLimit-Policy`` headers as the Hub sends them."""
        window = max(1, round(self.window_s))
        return {
            "RateLimit": f'"{bucket}";r={self.remaining};t={self.reset_s}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={self.quota};w={window}',
        }


class RateLimiter:
    """``quota`` requests per bucket per fixed window of ``window_s`` seconds."""

    def __init__(
        self,
        quota: int,
        *,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if quota < 1 or window_s <= 0:
            raise ValueError("rate limit quota and window must be positive")
        self.quota = quota
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # bucket → (window start, used)

    def check(self, bucket: str) -> RateDecision:
        """Count one request against ``bucket``; refused once the quota is used up."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(bucket, (now, 0))
            if now - start >= self.window_s:
                # Windows are aligned to the first request after the previous one ended.
                start, used = now, 0
            allowed = used < self.quota
            if allowed:
                used += 1
            self._windows[bucket] = (start, used)
        left = max(0.0, start + self.window_s - now)
        return RateDecision(
            allowed=allowed,
            remaining=self.quota - used,
            reset_s=max(1, math.ceil(left)) if not allowed else math.ceil(left),
            quota=self.quota,
            window_s=self.window_s,
        )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class FaultInjector:
    """Answers a seeded ``fail_rate`` fraction of requests with a random fault."""

    def __init__(self, fail_rate: float, *, seed: int = 0) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError("fail_rate must be within [0, 1]")
        self.fail_rate = fail_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults = list(Fault)

    def draw(self, *, allow_body_faults: bool = True) -> Fault | None:
        """The fault for the next request, or None to serve it normally.

        ``allow_body_faults`` False (HEAD requests) excludes truncated bodies.
        """
        if self.fail_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.fail_rate:
                return None
            choices = self._faults if allow_body_faults else self._faults[:-1]
            return self._rng.choice(choices)
