"""How a worker computes: :class:`WorkerSettings` and the environment variables that
give its defaults (``KINHUB_EXACT_MAX_BYTES``, ``KINHUB_SKETCH_MIN_BYTES``,
``KINHUB_WORKER_LEASE_S``, ``KINHUB_WORKER_RETRY_S``), read when the settings are made."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field

from kinhub.db.timeutil import parse_duration
from kinhub.kinship.job import DEFAULT_EXACT_MAX_BYTES, DEFAULT_SAMPLE, MODES
from kinhub.kinship.names import DEFAULT_WORKER_MODE
from kinhub.kinship.service import DEFAULT_METRICS

logger = logging.getLogger(__name__)

ENV_EXACT_MAX_BYTES = "KINHUB_EXACT_MAX_BYTES"
ENV_SKETCH_MIN_BYTES = "KINHUB_SKETCH_MIN_BYTES"
# ``auto`` answers jobs whose three models add up to more than this from per-model
# sketches (read once, reused by every job of the family) rather than sampling per job:
# where the exact engine stops (scripts/bench_sketch.py, README "Sketches").
DEFAULT_SKETCH_MIN_BYTES = DEFAULT_EXACT_MAX_BYTES
ENV_LEASE_S = "KINHUB_WORKER_LEASE_S"
ENV_RETRY_S = "KINHUB_WORKER_RETRY_S"
DEFAULT_LEASE_S = 300.0
DEFAULT_RETRY_S = 60.0
DEFAULT_MAX_ATTEMPTS = 3


def _env_bytes(name: str, default: int) -> int:
    """A size variable (``30GB``, ``1.5TiB``, ``1073741824``), as ``--exact-max-bytes``."""
    from kinhub.hub.cache import CacheBudgetError, parse_size

    raw = os.environ.get(name)
    try:
        return parse_size(raw) if raw else default
    except CacheBudgetError as exc:
        logger.warning("ignoring %s: %s", name, exc)
        return default


def _env_seconds(name: str, default: float) -> float:
    """A duration variable (``300``, ``5m``; :func:`kinhub.db.timeutil.parse_duration`)."""
    raw = os.environ.get(name)
    try:
        return parse_duration(raw) if raw else default
    except ValueError as exc:
        logger.warning("ignoring %s: %s", name, exc)
        return default


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker, readable in ``kinhub jobs``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerSettings:
    """How a worker computes; environment defaults are read when the settings are made."""

    mode: str = DEFAULT_WORKER_MODE
    worker_id: str = field(default_factory=default_worker_id)
    exact_max_bytes: int = field(
        default_factory=lambda: _env_bytes(ENV_EXACT_MAX_BYTES, DEFAULT_EXACT_MAX_BYTES)
    )
    sketch_min_bytes: int = field(
        default_factory=lambda: _env_bytes(ENV_SKETCH_MIN_BYTES, DEFAULT_SKETCH_MIN_BYTES)
    )
    sample: float = DEFAULT_SAMPLE
    seed: int = 0
    metrics: tuple[str, ...] = DEFAULT_METRICS
    lease_s: float = field(default_factory=lambda: _env_seconds(ENV_LEASE_S, DEFAULT_LEASE_S))
    retry_s: float = field(default_factory=lambda: _env_seconds(ENV_RETRY_S, DEFAULT_RETRY_S))
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    cache_budget: int | None = None
    cache_dir: str | None = None
    endpoint: str | None = None
    # The Hub account tier whose quotas this process's Hub client keeps to (None: as
    # the client was made, anonymous by default).
    plan: str | None = None
    poll_s: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0 < self.sample <= 1:
            raise ValueError(f"sample fraction must be in (0, 1], got {self.sample}")
        if self.lease_s <= 0:
            raise ValueError(f"lease must be positive, got {self.lease_s}")
