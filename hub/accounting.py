"""What a Hub client counts and learns from the answers it gets; its ``stats()``.

Per bucket: logical calls (``calls``: a listing page, a model_info, two per file
download, one per size or Range read), HTTP responses actually received (``http``,
counted by the ``RateLimit`` policy they name, the ``huggingface_hub`` client's own
retries included), retries made (``retries``) and 429 answers (``rate_limited``);
besides, listing items that could not be read, pages fetched again smaller (and the
page size that worked), and stored texts the Hub confirmed unchanged.  An answer
saying its window is spent pauses that bucket for every thread sharing the limits.
All of it is thread-safe.  A client shows its counters through :class:`Counted`.
"""

from __future__ import annotations

from collections import Counter
from threading import Lock
from typing import Any

from kinhub.hub.ratelimit import API, RESOLVE, RateLimitHeader, RateLimits, bucket_of, spent_window


class Accounting:
    """One client's counters; ``limits`` are the rate limiters its calls go through."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._lock = Lock()
        self.calls: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.retries: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.rate_limited: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.http: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.malformed = 0
        self.page_shrinks = 0
        self.files_reused = 0  # stored texts whose blob id the Hub's 307 confirmed
        # The largest listing page size the Hub answered in time after a timeout.
        self.page_limit: int | None = None
        self._limit_warned: set[str] = set()

    def observe(self, *, path: str, status: int, info: RateLimitHeader | None) -> None:
        """Count one HTTP response in the bucket its ``RateLimit`` policy names (else by
        ``path``: ``/resolve/`` and ``/api/resolve-cache/`` are resolver requests); when
        the header says the window is spent (``r=0``), pause that bucket until ``t``."""
        bucket = bucket_of(path=path, policy=info.resource_type if info else None)
        with self._lock:
            self.http[bucket] += 1
            if status == 429:
                self.rate_limited[bucket] += 1
        # Only a policy kinhub spends from (not "pages") pauses one of its buckets.
        spent = spent_window(info)
        if spent is not None:
            self.limits.bucket(spent[0]).pause(spent[1])

    def count_calls(self, bucket: str, n: int = 1) -> None:
        """``n`` requests the limiter of ``bucket`` let through."""
        with self._lock:
            self.calls[bucket] += n

    def count_retry(self, bucket: str) -> None:
        with self._lock:
            self.retries[bucket] += 1

    def first_limit(self, bucket: str) -> bool:
        """Whether this is the first 429 wait of ``bucket`` (warn once, not per thread)."""
        with self._lock:
            first = bucket not in self._limit_warned
            self._limit_warned.add(bucket)
        return first

    def count_malformed(self, n: int) -> None:
        """``n`` listing items that could not be read."""
        with self._lock:
            self.malformed += n

    def count_file_reused(self) -> None:
        """A stored text the Hub's 307 confirmed as the file's blob."""
        with self._lock:
            self.files_reused += 1

    def count_page_shrink(self, limit: int) -> None:
        """A listing page fetched again at ``limit`` items (a retry of the API bucket);
        first pages from now on ask for no more."""
        with self._lock:
            self.page_shrinks += 1
            self.retries[API] += 1
            self.page_limit = min(self.page_limit or limit, limit)

    def stats(self) -> dict[str, Any]:
        """Calls, retries and server rate limits per bucket, client-side waits, listing
        items that could not be read and pages fetched again smaller."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "http": dict(self.http),
                "retries": dict(self.retries),
                "rate_limited": dict(self.rate_limited),
                "malformed_items": self.malformed,
                "page_shrinks": self.page_shrinks,
                "files_reused": self.files_reused,
                "throttled_s": {
                    API: round(self.limits.api.waited_s, 3),
                    RESOLVE: round(self.limits.resolve.waited_s, 3),
                },
            }


class Counted:
    """A client's counters, read as attributes (the objects :meth:`stats` reads)."""

    _accounting: Accounting

    @property
    def calls(self) -> Counter[str]:
        return self._accounting.calls

    @property
    def http(self) -> Counter[str]:
        return self._accounting.http

    @property
    def retries(self) -> Counter[str]:
        return self._accounting.retries

    @property
    def rate_limited(self) -> Counter[str]:
        return self._accounting.rate_limited

    @property
    def malformed(self) -> int:
        return self._accounting.malformed

    @property
    def page_shrinks(self) -> int:
        return self._accounting.page_shrinks

    @property
    def files_reused(self) -> int:
        return self._accounting.files_reused

    @property
    def page_limit(self) -> int | None:
        """The largest listing page size the Hub answered in time after a timeout."""
        return self._accounting.page_limit

    def stats(self) -> dict[str, Any]:
        """Calls, retries and server rate limits per bucket, client-side waits, listing
        items that could not be read and pages fetched again smaller."""
        return self._accounting.stats()
