"""The retry policy every Hub call follows: bounded exponential backoff for 5xx and
network errors, and waiting out the server's announced reset for 429s."""

from __future__ import annotations

import random
from dataclasses import dataclass


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

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), with ±25 % jitter."""
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return delay * random.uniform(0.75, 1.25)
