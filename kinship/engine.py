"""Public entry points: plan and compute native kinship for (A, B) against a base.

``compute_kinship`` opens the three models, plans, streams (exact) or samples
(``sample=FRACTION``) and returns a ``KinshipResult`` with everything the database
stores.  Nothing here prints; the CLI renders the result.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kinhub.kinship import metrics as metric_registry
from kinhub.kinship.errors import KinshipError
from kinhub.kinship.execute import measure_exact, resolve_device
from kinhub.kinship.plan import Plan, plan_native
from kinhub.kinship.result import KinshipResult
from kinhub.kinship.weights import (
    LocalFiles,
    ModelWeights,
    open_model,
    resolve_ref,
    weight_files,
)

logger = logging.getLogger(__name__)

DEFAULT_METRICS = metric_registry.DEFAULT_METRICS

_COMMIT = re.compile(r"[0-9a-f]{40}")
_FINGERPRINTED = (".safetensors", ".json", ".bin", ".pt", ".pth")

# KinshipResult lives in kinship/result.py; kept importable from here for callers.
__all__ = ["DEFAULT_METRICS", "KinshipResult", "compute_kinship", "fingerprint", "plan_kinship"]


@contextmanager
def opened(
    refs: tuple[str, str, str],
    *,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
) -> Iterator[tuple[ModelWeights, ModelWeights, ModelWeights]]:
    """Open A, B and base for exact reading (Hub repos are downloaded into the HF cache)."""
    ms: list[ModelWeights] = []
    try:
        for r in refs:
            ms.append(
                open_model(r, allow_pickle=allow_pickle, endpoint=endpoint, cache_dir=cache_dir)
            )
        yield ms[0], ms[1], ms[2]
    finally:
        for m in ms:
            m.close()


def _revisions(models: tuple[ModelWeights, ...]) -> dict[str, str | None]:
    return dict(zip(("a", "b", "base"), (m.revision for m in models), strict=True))


def plan_kinship(
    a: str,
    b: str,
    base: str,
    *,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
) -> Plan:
    """The native plan only (``--dry-run``): headers are read, tensor data is not.

    Local folders are indexed in place; Hub repos from their safetensors headers by
    HTTP Range reads (``kinship.remote``), so nothing is downloaded.  A Hub repo with
    pickle checkpoints only cannot be planned without downloading it, and raises.

    Raises:
        InvalidRepoIdError, ModelSourceError, PickleRefusedError, WeightsFormatError,
        PlanError.
    """
    from kinhub.kinship.remote import open_remote

    ms: list[ModelWeights] = []
    try:
        for ref in (a, b, base):
            repo_id, _ = resolve_ref(ref)
            if repo_id is None:
                ms.append(open_model(ref, allow_pickle=allow_pickle, cache_dir=cache_dir))
            else:
                ms.append(open_remote(ref, endpoint=endpoint))
        return plan_native(ms[0], ms[1], ms[2])
    finally:
        for m in ms:
            m.close()


def compute_kinship(
    a: str,
    b: str,
    base: str,
    *,
    metrics: list[str] | tuple[str, ...] = DEFAULT_METRICS,
    per_tensor: bool = False,
    device: str = "cpu",
    sample: float | None = None,
    seed: int = 0,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> KinshipResult:
    """Native kinship of ``a`` and ``b`` against ``base`` (folders or ``org/name[@rev]``).

    Raises:
        UnknownMetricError, DeviceUnavailableError, InvalidRepoIdError, ModelSourceError,
        PickleRefusedError, WeightsFormatError, PlanError.
    """
    chosen = [metric_registry.get(m) for m in metrics]
    resolve_device(device)
    t0 = time.perf_counter()
    if sample is not None:
        from kinhub.kinship.sampled import sample_kinship

        return sample_kinship(
            a,
            b,
            base,
            metrics=[m.name for m in chosen],
            fraction=sample,
            seed=seed,
            endpoint=endpoint,
            per_tensor=per_tensor,
        )
    with opened(
        (a, b, base), allow_pickle=allow_pickle, endpoint=endpoint, cache_dir=cache_dir
    ) as ms:
        plan = plan_native(*ms)
        values, breakdown = measure_exact(
            plan,
            ms,
            chosen,
            per_tensor=per_tensor,
            workers=workers,
            device=device,
            progress=progress,
        )
        return KinshipResult(
            a=a,
            b=b,
            base=base,
            metrics=values,
            params_compared=plan.params,
            bytes_read=sum(m.bytes_read for m in ms),
            seconds=time.perf_counter() - t0,
            dropped=plan.dropped,
            revisions=_revisions(ms),
            breakdown=breakdown,
        )


def fingerprint(ref: str, *, endpoint: str | None = None) -> str | None:
    """What identifies a model's content without reading weights.

    A local folder: a hash of the name, size, inode and modification times of every file
    read to measure it (``weights.weight_files``: config, shard index and every shard it
    names, in subfolders too) and of its other top-level weight and config files.
    A Hub id: the commit its revision (default branch if none) points to now, so a cached
    result is not reused after the repo moves on; when the Hub cannot be asked (offline),
    the revision as written.  A revision that is already a full commit sha (40 lowercase
    hex) is its own answer: the Hub is not asked.

    Raises:
        InvalidRepoIdError: neither a folder nor a valid ``org/name[@rev]``.
    """
    p = Path(ref)
    if p.is_dir():
        return _folder_fingerprint(p)
    repo_id, revision = resolve_ref(ref)
    assert repo_id is not None
    if revision is not None and _COMMIT.fullmatch(revision):
        return revision  # a commit names itself: no network for the cache key
    from kinhub.hub.errors import HubError
    from kinhub.hub.retry import RetryPolicy
    from kinhub.hub.shared import shared_client

    # A cache key only: one quick retry, then key on the revision as written (offline).
    probe = shared_client(endpoint).with_retry(RetryPolicy(max_attempts=2))
    try:
        sha = probe.model_info(repo_id, revision=revision).sha
    except HubError as exc:  # offline or not found: computing will report it properly
        logger.info("%s: cannot resolve revision (%s); keying on %r", ref, exc, revision)
        return revision
    return sha or revision


def _folder_fingerprint(folder: Path) -> str:
    """See :func:`fingerprint`; a file that cannot be stat'ed counts as missing (computing
    reports it), and an index that cannot be read leaves the top-level files only."""
    try:
        read = weight_files(folder)
    except KinshipError as exc:
        logger.info("%s: %s; fingerprinting the top-level files only", folder, exc)
        read = []
    top = [f.name for f in folder.iterdir() if f.suffix in _FINGERPRINTED]
    h = hashlib.sha256()
    files = LocalFiles(folder)
    for name in sorted(set(read) | set(top)):
        try:
            st = files.path(name).stat()  # a name escaping the folder is refused
        except (OSError, ValueError, KinshipError):
            h.update(f"{name}:missing;".encode())
            continue
        h.update(f"{name}:{st.st_size}:{st.st_ino}:{st.st_mtime_ns}:{st.st_ctime_ns};".encode())
    return h.hexdigest()
