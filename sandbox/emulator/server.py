"""``HubEmulator``: serve a snapshot directory as the Hub API on a background thread."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from kinhub.sandbox.emulator import listing
from kinhub.sandbox.emulator.app import DEFAULT_CDN_TTL_S, EmulatorApp, EmulatorServer
from kinhub.sandbox.emulator.errors import EmulatorError
from kinhub.sandbox.emulator.faults import (
    UNLIMITED_QUOTA,
    FaultInjector,
    FaultScript,
    RateLimiter,
    ScriptedFault,
)
from kinhub.sandbox.emulator.handler import HubRequestHandler
from kinhub.sandbox.emulator.store import RepoStore

logger = logging.getLogger(__name__)


class HubEmulator:
    """A local Hub speaking the subset of the API that ``huggingface_hub`` uses.

    Use as a context manager (or call :meth:`start` / :meth:`close`)::

        with HubEmulator(root) as emu:
            HfApi(endpoint=emu.url).model_info("org/name")

    Args:
        root: snapshot directory, ``root/<org>/<name>/`` per repo.
        host, port: where to listen; port 0 picks a free one.
        latency_ms: delay added to every Hub request.
        bandwidth_bps: cap on the bytes per second of each file body sent (downloads
            and Range reads); None = as fast as the machine goes.
        fail_rate: fraction of Hub requests answered with an injected fault
            (429, 500, 503, connection reset, truncated body), drawn from a
            RNG seeded with ``seed``.
        rate_limit: requests per window and bucket (api, resolve); None = unlimited
            (the ``RateLimit`` headers still come on every answer).
        rate_quotas: per-bucket quotas overriding ``rate_limit`` (e.g. the free plan's
            ``{"api": 1000, "resolve": 5000}``).
        rate_window_s: window length of the rate limit.
        page_size: listing page size when the request has no ``limit``.
        script: scripted faults (:class:`ScriptedFault`), consumed in order; more can
            be added with :meth:`add_fault`.
        heavy_page_limit: listing pages with more items than this and ``config``
            expanded answer 504 (the Hub's gateway timeout); None never does.
        cdn_ttl_s: large (LFS) files resolve with a 302 to a signed location on
            ``/cdn-lfs/`` valid this many seconds (the Hub's CDN hop: Range reads there
            count in the ``cdn`` stats bucket, on no quota; an expired one answers 403);
            None serves them from ``/resolve/`` itself.

    Beyond the API subset, it behaves as the Hub does where clients notice: small files
    resolve with a 307 to ``/api/resolve-cache/…`` (three requests per download, all on
    the resolvers quota), gated repos answer 401 anonymously and 403 to a logged-in
    caller (``X-Error-Code: GatedRepo``), renamed repos (``ROOT/.renames.json``, old id
    → new id) redirect on the API and on resolve, and settings in ``.hub.json``
    (gating, likes, …) change neither the sha nor ``lastModified``.

    Raises:
        EmulatorError: the root is not a directory or the port cannot be bound.
    """

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        rate_limit: int | None = None,
        rate_window_s: float = 300.0,
        seed: int = 0,
        page_size: int = listing.DEFAULT_MAX_PAGE,
        rate_quotas: dict[str, int] | None = None,
        script: list[ScriptedFault] | None = None,
        heavy_page_limit: int | None = listing.HEAVY_PAGE_LIMIT,
        bandwidth_bps: float | None = None,
        cdn_ttl_s: float | None = DEFAULT_CDN_TTL_S,
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise EmulatorError(f"snapshot directory {root} does not exist")
        try:
            faults = FaultInjector(fail_rate, seed=seed) if fail_rate > 0 else None
            limiter = (
                RateLimiter(
                    rate_limit or UNLIMITED_QUOTA, window_s=rate_window_s, quotas=rate_quotas
                )
                if rate_limit or rate_quotas
                else None
            )
            faults_script = FaultScript(script)
        except ValueError as exc:
            raise EmulatorError(str(exc)) from exc
        self.root = root
        self.app = EmulatorApp(
            RepoStore(root),
            latency_ms=latency_ms,
            faults=faults,
            limiter=limiter,
            page_size=page_size,
            script=faults_script,
            heavy_page_limit=heavy_page_limit,
            bandwidth_bps=bandwidth_bps,
            cdn_ttl_s=cdn_ttl_s,
        )
        self._host = host
        self._port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (valid once started)."""
        if self._server is None:
            raise EmulatorError("emulator is not running")
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> HubEmulator:
        """Bind and serve on a daemon thread; returns self."""
        if self._server is not None:
            return self
        try:
            self._server = EmulatorServer((self._host, self._port), self.app, HubRequestHandler)
        except OSError as exc:
            raise EmulatorError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="hub-emulator",
            daemon=True,
        )
        self._thread.start()
        threading.Thread(target=self.app.warm_up, name="hub-emulator-index", daemon=True).start()
        logger.info("hub emulator serving %s at %s", self.root, self.url)
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until :meth:`close` or KeyboardInterrupt."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def stats(self) -> dict[str, Any]:
        """Same document as ``GET /_emulator/stats``."""
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters (and the rate-limit windows)."""
        self.app.stats.reset()
        if self.app.limiter is not None:
            self.app.limiter.reset()

    def add_fault(self, pattern: str, fault: str, *, times: int = 1) -> None:
        """Answer the next ``times`` requests matching ``pattern`` (a regex searched in
        ``"METHOD /path?query"``) with ``fault`` (see :class:`ScriptedFault`)."""
        try:
            self.app.script.add(ScriptedFault(pattern, fault, times))
        except ValueError as exc:
            raise EmulatorError(str(exc)) from exc

    def reload(self) -> None:
        """Forget cached metadata; the snapshot is re-read on the next request."""
        self.app.store.reload()

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
