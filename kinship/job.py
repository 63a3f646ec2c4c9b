"""One kinship job, computed: pick exact or sampled from the weights' sizes, check the
inputs, measure through the kinship service, and say whether a failure is permanent.

A job names A, B and a base as Hub references (``org/name[@revision]``).  Modes:
``exact`` downloads the three models into the HF cache and streams them; ``sampled``
reads a fraction of every tensor by HTTP Range; ``auto`` is exact when the three
models' safetensors files add up to at most ``exact_max_bytes`` (sizes from the Hub's
file metadata) and sampled otherwise.  Choosing the mode checks the inputs on the way:
the repos answer, hold safetensors weights (never pickle checkpoints) and declare one
architecture.

The measurement is :func:`kinhub.kinship.service.measure_kinship` — the service behind
``kinhub kinship`` — whose ``on_row`` hook lets the caller finish the job in the
transaction that stores the row.  Claiming, leases, retries and the loop that repeats
all this are the worker's: :mod:`kinhub.pipeline.worker`.

Failures: inputs that cannot work (a missing, gated or private repo, a corrupt or
unsupported safetensors file, pickle-only checkpoints, architectures that differ,
nothing comparable) are permanent; anything else (network, database, the Hub giving
up after its retries) is worth another attempt (:func:`classify`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kinhub.db.engine import Database
from kinhub.db.errors import DatabaseError, InvalidRepoIdError, KinhubError
from kinhub.db.jobs.queue import ClaimedJob
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.kinship.errors import (
    KinshipError,
    PickleRefusedError,
    PlanError,
    WeightsFormatError,
)
from kinhub.kinship.names import WORKER_MODES
from kinhub.kinship.service import Measurement, RowHook, looks_local, measure_kinship

logger = logging.getLogger(__name__)

MODES = WORKER_MODES
DEFAULT_EXACT_MAX_BYTES = 30 * 10**9  # three ~5B-parameter bf16 models
DEFAULT_SAMPLE = 0.02
SIZE_TTL_S = 600.0
_PERMANENT_HUB = frozenset({"not_found", "gated", "private"})


class JobInputError(KinshipError):
    """A job's inputs cannot be measured (pickle-only, architectures differ)."""


def classify(exc: BaseException) -> tuple[bool, str]:
    """(permanent, reason): whether retrying ``exc`` cannot help, and one line saying why.

    Permanent: a repo the Hub answers is missing, gated or private; a corrupt or
    unsupported weights file; pickle-only checkpoints; models that cannot be compared;
    an invalid repo id; a model source that is not there.  Everything else — the Hub
    giving up after its retries, the network, the database — is worth another attempt.
    """
    reason = " ".join(str(exc).split()) or type(exc).__name__
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    for e in chain:
        if isinstance(e, RepoUnavailableError):
            return e.status in _PERMANENT_HUB, reason
    if isinstance(
        exc,
        WeightsFormatError | PickleRefusedError | PlanError | JobInputError | InvalidRepoIdError,
    ):
        return True, reason
    if any(isinstance(e, HubError | DatabaseError | OSError) for e in chain):
        return False, reason
    if isinstance(exc, KinhubError):  # ModelSourceError without a Hub cause, bad metric, …
        return True, reason
    return False, f"{type(exc).__name__}: {reason}"


def explain_failure(
    job: ClaimedJob, exc: Exception, *, endpoint: str | None = None
) -> tuple[bool, str]:
    """:func:`classify` for a failed job, with the culprit named when the weights were
    unreadable (the engine's error names the file only)."""
    permanent, reason = classify(exc)
    if isinstance(exc, WeightsFormatError):
        culprit = _corrupt_input(job, endpoint=endpoint)
        if culprit is not None and not reason.startswith(culprit):
            reason = f"{culprit}: {reason}"
    return permanent, reason


def _corrupt_input(job: ClaimedJob, *, endpoint: str | None) -> str | None:
    """Which of the job's models has the unreadable weights: the first whose safetensors
    headers do not parse."""
    from kinhub.kinship.remote import open_remote

    for ref in job.refs:
        if looks_local(ref):
            continue
        try:
            open_remote(ref, endpoint=endpoint).close()
        except WeightsFormatError:
            return ref
        except Exception:  # unreadable for another reason: not the corrupt one
            continue
    return None


class WeightSizes:
    """Bytes of Hub models' safetensors files (a HEAD each) and their configs, remembered
    for ``SIZE_TTL_S`` (a pinned revision never changes; a branch may move, and the
    engine resolves it again anyway), which saves the Hub's API quota when a family's
    base appears in many jobs.  One per worker."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, int, dict[str, Any] | None]] = {}

    def of(self, ref: str, *, endpoint: str | None) -> tuple[int, dict[str, Any] | None]:
        """(bytes of safetensors weights, config) of Hub reference ``ref``.

        Raises:
            JobInputError: the repo holds no safetensors weights.
            RepoUnavailableError, HubError: the Hub did not answer.
        """
        from kinhub.hub.shared import shared_client

        now = time.monotonic()
        known = self._known.get(ref)
        if known is not None and now - known[0] < SIZE_TTL_S:
            return known[1], known[2]
        repo_id, _, revision = ref.partition("@")
        hub = shared_client(endpoint)
        info = hub.model_info(repo_id, revision=revision or None)
        files = [f for f in info.files or () if "/" not in f]
        weights = [f for f in files if f.endswith(".safetensors")]
        if not weights:
            pickles = [f for f in files if f.endswith((".bin", ".pt", ".pth", ".ckpt"))]
            why = (
                f"only pickle checkpoints ({', '.join(pickles)}); the worker reads safetensors"
                if pickles
                else "no safetensors weights in the repo"
            )
            raise JobInputError(f"{ref}: {why}")
        total = sum(hub.file_size(repo_id, f, revision=info.sha or revision) for f in weights)
        self._known[ref] = (now, total, info.config)
        return total, info.config


def choose_mode(
    job: ClaimedJob,
    *,
    mode: str,
    exact_max_bytes: int,
    sizes: WeightSizes,
    endpoint: str | None = None,
    refs: Sequence[str] | None = None,
    sketch_min_bytes: int | None = None,
) -> str:
    """``exact``, ``sampled`` or ``sketch`` for this job (``mode`` itself unless it is
    ``auto``); checks the inputs on the way (the repos answer, hold safetensors weights,
    and have one architecture) except in ``sketch`` mode, whose reads check them.
    ``refs`` replaces ``job.refs`` (a local model's folder).  ``auto``: exact up to
    ``exact_max_bytes`` of weights in all, sketches above ``sketch_min_bytes`` (when
    given), sampled between.

    Raises:
        JobInputError, RepoUnavailableError, HubError, KinshipError.
    """
    if mode == "sketch":
        return mode
    found: list[int] = []
    configs: dict[str, dict[str, Any]] = {}
    for ref in refs or job.refs:
        if Path(ref).is_dir() or looks_local(ref):
            continue  # a local folder: the engine checks it
        size, cfg = sizes.of(ref, endpoint=endpoint)
        found.append(size)
        if cfg:
            configs[ref] = cfg
    _check_architectures(configs)
    if mode != "auto":
        return mode
    total = sum(found)
    chosen = "exact" if total <= exact_max_bytes else "sampled"
    if chosen == "sampled" and sketch_min_bytes is not None and total > sketch_min_bytes:
        chosen = "sketch"
    logger.info(
        "job %s: %d bytes of weights (exact up to %d): %s",
        job.id,
        total,
        exact_max_bytes,
        chosen,
    )
    return chosen


def _check_architectures(configs: dict[str, dict[str, Any]]) -> None:
    """Raises: JobInputError when the models' declared architectures differ."""
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for ref, cfg in configs.items():
        archs = cfg.get("architectures")
        shape = (
            str(cfg.get("model_type") or ""),
            tuple(str(a) for a in archs) if isinstance(archs, list) else (),
        )
        seen.setdefault(shape, ref)
    known = {s: r for s, r in seen.items() if s != ("", ())}
    if len(known) > 1:
        described = "; ".join(
            f"{ref}: {mt or '?'} {'/'.join(ar) or '?'}" for (mt, ar), ref in known.items()
        )
        raise JobInputError(f"architectures do not match ({described})")


def measure_job(
    database: Database,
    job: ClaimedJob,
    *,
    mode: str,
    metrics: Sequence[str],
    sample: float,
    seed: int = 0,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_row: RowHook | None = None,
    refs: Sequence[str] | None = None,
) -> Measurement:
    """Measure ``job`` in ``mode`` (``exact``, or ``sampled`` reading ``sample`` of every
    tensor) and store the row; ``on_row`` runs in the transaction that stores it.
    ``progress`` (tensors done, total) may raise to abandon the job.  ``refs``
    replaces ``job.refs`` (a model ingested from a local folder is read there).

    Raises:
        KinshipError, HubError, DatabaseError: what the service raises.
    """
    a, b, base = refs or job.refs
    return measure_kinship(
        database,
        a=a,
        b=b,
        base=base,
        metrics=metrics,
        sample=sample if mode == "sampled" else None,
        seed=seed,
        endpoint=endpoint,
        cache_dir=cache_dir,
        progress=progress,
        on_row=on_row,
    )


__all__ = [
    "DEFAULT_EXACT_MAX_BYTES",
    "DEFAULT_SAMPLE",
    "MODES",
    "SIZE_TTL_S",
    "JobInputError",
    "WeightSizes",
    "choose_mode",
    "classify",
    "explain_failure",
    "measure_job",
]
