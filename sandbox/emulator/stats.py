"""Request, byte, status and fault counters, reported at ``GET /_emulator/stats``.

Buckets: ``api``, ``resolve`` (the Hub's resolvers quota) and ``cdn`` (Range reads and
downloads at the signed location a large file's resolve redirects to; on no quota).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from kinhub.sandbox.emulator.faults import BUCKETS

# The signed CDN location large files are read from: counted apart, on no Hub quota.
CDN_BUCKET = "cdn"


class Stats:
    """Thread-safe counters; :meth:`snapshot` gives the JSON document."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            # ``cdn`` shows once something was read there.
            self._requests: Counter[str] = Counter(dict.fromkeys(BUCKETS, 0))
            self._bytes: Counter[str] = Counter(dict.fromkeys(BUCKETS, 0))
            self._statuses: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()

    def request(self, bucket: str) -> None:
        with self._lock:
            self._requests[bucket] += 1

    def response(self, bucket: str, status: int, body_bytes: int) -> None:
        with self._lock:
            self._statuses[str(status)] += 1
            self._bytes[bucket] += body_bytes

    def sent(self, bucket: str, body_bytes: int) -> None:
        with self._lock:
            self._bytes[bucket] += body_bytes

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"requests": {...}, "bytes": {...}, "statuses": {...}, "faults": {...}}``."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "bytes": dict(self._bytes),
                "statuses": dict(sorted(self._statuses.items())),
                "faults": dict(sorted(self._faults.items())),
            }
