"""Rate limiting (fixed windows per bucket) and seeded fault injection.

Both are decided before a request is routed; ``/_emulator/*`` never reaches
them.  The clock is injectable so tests can use short windows.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

BUCKETS = ("api", "resolve")
# The policy names the Hub puts in its RateLimit headers, per emulator bucket: API calls,
# file resolution (``/resolve/`` and ``/api/resolve-cache/``), and web pages.
POLICIES = {"api": "api", "resolve": "resolvers", "pages": "pages"}
# Without a configured limit the headers still come on every response (as on the Hub),
# announcing a quota no test reaches.
UNLIMITED_QUOTA = 1_000_000


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

    def headers(self, bucket: str, *, remaining: int | None = None) -> dict[str, str]:
        """``RateLimit`` / ``RateLimit-Policy`` headers as the Hub sends them, named by the
        Hub's policy for ``bucket`` (``api``, ``resolvers``, ``pages``)."""
        policy = POLICIES.get(bucket, bucket)
        window = max(1, round(self.window_s))
        left = self.remaining if remaining is None else remaining
        return {
            "RateLimit": f'"{policy}";r={left};t={self.reset_s}',
            "RateLimit-Policy": f'"fixed window";"{policy}";q={self.quota};w={window}',
        }


class RateLimiter:
    """``quota`` requests per bucket per fixed window of ``window_s`` seconds;
    ``quotas`` gives some buckets their own quota (the Hub's resolvers quota is larger
    than its API quota)."""

    def __init__(
        self,
        quota: int,
        *,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        quotas: Mapping[str, int] | None = None,
    ) -> None:
        if quota < 1 or window_s <= 0 or any(q < 1 for q in (quotas or {}).values()):
            raise ValueError("rate limit quota and window must be positive")
        self.quota = quota
        self.quotas = dict(quotas or {})
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # bucket → (window start, used)

    def check(self, bucket: str) -> RateDecision:
        """Count one request against ``bucket``; refused once the quota is used up."""
        now = self._clock()
        quota = self.quotas.get(bucket, self.quota)
        with self._lock:
            start, used = self._windows.get(bucket, (now, 0))
            if now - start >= self.window_s:
                # Windows are aligned to the first request after the previous one ended.
                start, used = now, 0
            allowed = used < quota
            if allowed:
                used += 1
            self._windows[bucket] = (start, used)
        left = max(0.0, start + self.window_s - now)
        return RateDecision(
            allowed=allowed,
            remaining=quota - used,
            reset_s=max(1, math.ceil(left)) if not allowed else math.ceil(left),
            quota=quota,
            window_s=self.window_s,
        )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


@dataclass
class ScriptedFault:
    """Answer the next ``times`` requests whose ``METHOD path?query`` matches ``pattern``
    (a regular expression, searched) with ``fault``: a status (``"429"``, ``"500"``,
    ``"503"``, ``"504"``), ``"429r"`` (a 429 whose ``RateLimit`` header still shows
    requests remaining, r>0, with a reset time far away) or ``"reset"``."""

    pattern: str
    fault: str
    times: int = 1

    def __post_init__(self) -> None:
        if self.fault not in SCRIPTED_FAULTS:
            raise ValueError(f"unknown scripted fault {self.fault!r}")
        self._regex = re.compile(self.pattern)

    def matches(self, request_line: str) -> bool:
        return self.times > 0 and self._regex.search(request_line) is not None


SCRIPTED_FAULTS = ("429", "429r", "500", "503", "504", "reset")


class FaultScript:
    """Scripted faults, consumed in order of registration; thread-safe."""

    def __init__(self, faults: list[ScriptedFault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = list(faults or [])
        self.fired: list[tuple[str, str]] = []  # (request line, fault), for tests

    def add(self, fault: ScriptedFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def draw(self, request_line: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(request_line):
                    fault.times -= 1
                    self.fired.append((request_line, fault.fault))
                    return fault.fault
        return None


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
