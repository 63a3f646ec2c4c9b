"""Shared state of one running emulator, and the HTTP server that carries it.

:class:`EmulatorApp` holds what every request handler shares: the repo store, the
counters, the rate limiter, the fault injector and script, the pacing settings
(latency, bandwidth) and the sorted listing indexes.  :class:`EmulatorServer` is a
threading HTTP server carrying one app.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kinhub.sandbox.emulator import listing
from kinhub.sandbox.emulator.faults import (
    UNLIMITED_QUOTA,
    FaultInjector,
    FaultScript,
    RateLimiter,
)
from kinhub.sandbox.emulator.stats import Stats
from kinhub.sandbox.emulator.store import PERSIST_MIN_REPOS, RepoStore

logger = logging.getLogger(__name__)

DEFAULT_CDN_TTL_S = 3600.0  # the Hub's signed CDN URLs last about an hour


class EmulatorApp:
    """Shared state of one emulator: store, counters, limiter, faults, listing caches."""

    def __init__(
        self,
        store: RepoStore,
        *,
        latency_ms: float = 0,
        faults: FaultInjector | None = None,
        limiter: RateLimiter | None = None,
        page_size: int = listing.DEFAULT_MAX_PAGE,
        max_page_size: int = listing.DEFAULT_MAX_PAGE,
        script: FaultScript | None = None,
        heavy_page_limit: int | None = listing.HEAVY_PAGE_LIMIT,
        bandwidth_bps: float | None = None,
        cdn_ttl_s: float | None = DEFAULT_CDN_TTL_S,
    ) -> None:
        self.store = store
        # Large (LFS) files resolve with a 302 to a signed location valid this long (the
        # Hub's CDN hop); None: served from /resolve/ itself.  ``clock`` dates the
        # signatures (tests move it on to expire them); the key lives with the app.
        self.cdn_ttl_s = cdn_ttl_s
        self.clock: Callable[[], float] = time.time
        self.cdn_key = os.urandom(16)
        self.stats = Stats()
        self.latency_s = latency_ms / 1000.0
        # File bodies are sent at most this many bytes per second, per response.
        self.bandwidth_bps = bandwidth_bps if bandwidth_bps and bandwidth_bps > 0 else None
        self.faults = faults
        # Always present: the headers come on every answer even when nothing is enforced.
        self.limiter = limiter or RateLimiter(UNLIMITED_QUOTA)
        self.script = script or FaultScript()
        # A listing page with more items than this and a heavy field (config) expanded
        # times out at the gateway (504), as on the Hub; None: never.
        self.heavy_page_limit = heavy_page_limit
        self._lock = threading.Lock()
        self._too_many = 0
        self.page_size = page_size
        self.max_page_size = max(max_page_size, page_size)
        self._index_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._indexes: dict[str | None, listing.SortedIndex] = {}

    def next_too_many_remaining(self) -> bool:
        """Whether the next injected 429 says r>0 (every other one does: the Hub
        sends 429s with requests left in the window, which clients must not take for
        a spent quota)."""
        with self._lock:
            self._too_many += 1
            return self._too_many % 2 == 0

    def warm_up(self) -> None:
        """Index the whole snapshot (run on a background thread at start)."""
        with self._refresh_lock:
            adopted = self.store.load_index()
            derived_before = self.store.derived
            metas = self.store.refresh()
            derived = self.store.derived - derived_before
            if derived and len(metas) >= PERSIST_MIN_REPOS:
                self.store.save_index()
        logger.info("indexed %d repos (%d from the saved index)", len(metas), adopted)

    def index(self, sort: str | None, *, refresh: bool) -> listing.SortedIndex:
        """The sorted index for ``sort``; ``refresh`` re-validates the snapshot first."""
        # One refresh at a time: concurrent first pages would derive every repo twice.
        with self._refresh_lock:
            metas = self.store.refresh() if refresh else self.store.cached()
        generation = self.store.generation
        with self._index_lock:
            cached = self._indexes.get(sort)
            if cached is not None and cached.generation == generation:
                return cached
        built = listing.SortedIndex(metas, sort, generation)
        with self._index_lock:
            self._indexes[sort] = built
        return built


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the :class:`EmulatorApp`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        app: EmulatorApp,
        handler: type[BaseHTTPRequestHandler],
    ) -> None:
        self.app = app
        super().__init__(address, handler)
