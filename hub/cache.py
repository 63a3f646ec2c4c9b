"""The weights cache under a size budget: least recently used revisions go first.

Downloads land in the Hugging Face cache (``HF_HUB_CACHE``/``HF_HOME``).  This module
reads it and deletes from it only through ``huggingface_hub``'s cache API
(``scan_cache_dir``, ``delete_revisions``, wrapped in :mod:`kinhub.hub.client`, the one
module importing the client), never by walking or removing folders itself.

"Recently used" is the newest access or modification time of a revision's blobs.
File systems mounted ``relatime``/``noatime`` update access times lazily or never, so
the kinship worker calls :func:`mark_used` on the revisions a job read.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kinhub.hub.client import delete_cached_revisions, scan_cache
from kinhub.hub.errors import HubError

logger = logging.getLogger(__name__)

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


class CacheBudgetError(HubError, ValueError):
    """A cache size such as ``200GB`` could not be read."""


def parse_size(text: str) -> int:
    """Bytes in ``200GB``, ``1.5TiB``, ``500MB``, ``1024`` (decimal and binary units).

    Raises:
        CacheBudgetError: not a size.
    """
    match = _SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise CacheBudgetError(
            f"{text!r} is not a size (examples: 200GB, 1.5TiB, 500MB, 1073741824)"
        )
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class CachedRevision:
    """One cached revision (commit) of a model repo."""

    repo_id: str
    commit: str
    size: int
    last_used: datetime
    weights: bool  # it holds *.safetensors files

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "commit": self.commit,
            "size": self.size,
            "last_used": self.last_used.isoformat(),
        }


def _revisions_of(info: Any) -> list[CachedRevision]:
    out: list[CachedRevision] = []
    if info is None:
        return out
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            stamps = [max(f.blob_last_accessed, f.blob_last_modified) for f in rev.files]
            used = max(stamps, default=rev.last_modified)
            out.append(
                CachedRevision(
                    repo_id=repo.repo_id,
                    commit=rev.commit_hash,
                    size=int(rev.size_on_disk),
                    last_used=datetime.fromtimestamp(used, UTC),
                    weights=any(f.file_name.endswith(".safetensors") for f in rev.files),
                )
            )
    return out


def cached_revisions(*, cache_dir: Path | None = None) -> list[CachedRevision]:
    """Every cached model revision, least recently used first."""
    return sorted(
        _revisions_of(scan_cache(cache_dir)), key=lambda r: (r.last_used, r.repo_id, r.commit)
    )


def cached_weights(*, cache_dir: Path | None = None) -> set[str]:
    """Repos with safetensors weights in the cache (the worker prefers their jobs)."""
    return {r.repo_id for r in cached_revisions(cache_dir=cache_dir) if r.weights}


def cache_size(*, cache_dir: Path | None = None) -> int:
    """Bytes the cache takes on disk."""
    info = scan_cache(cache_dir)
    return int(info.size_on_disk) if info is not None else 0


def mark_used(repo_id: str, commit: str, *, cache_dir: Path | None = None) -> None:
    """Record that a job read ``repo_id`` at ``commit`` now (blob access times), so the
    budget keeps it over revisions not read for longer."""
    info = scan_cache(cache_dir)
    if info is None:
        return
    now = time.time()
    for repo in info.repos:
        if repo.repo_id != repo_id or repo.repo_type != "model":
            continue
        for rev in repo.revisions:
            if rev.commit_hash != commit:
                continue
            for f in rev.files:
                try:
                    os.utime(f.blob_path, (now, f.blob_last_modified))
                except OSError as exc:  # read-only cache: LRU falls back to the file system
                    logger.debug("cannot mark %s used: %s", f.blob_path, exc)


@dataclass
class Eviction:
    """What :func:`enforce_budget` found and deleted."""

    budget: int
    size_before: int
    size_after: int
    deleted: list[CachedRevision] = field(default_factory=list)
    kept_in_use: int = 0  # revisions over budget that were kept because a job needs them

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "deleted": [r.to_dict() for r in self.deleted],
            "kept_in_use": self.kept_in_use,
        }


def enforce_budget(
    budget: int, *, keep: Collection[str] = (), cache_dir: Path | None = None
) -> Eviction:
    """Delete least recently used model revisions until the cache is within ``budget``
    bytes; revisions of the repos in ``keep`` (those a running job reads) stay, even
    when that leaves the cache over budget.

    The freed size is what ``huggingface_hub`` expects to free: a blob shared with a
    kept revision stays on disk.
    """
    info = scan_cache(cache_dir)
    before = int(info.size_on_disk) if info is not None else 0
    report = Eviction(budget=budget, size_before=before, size_after=before)
    if before <= budget:
        return report
    over = before - budget
    chosen: list[CachedRevision] = []
    for rev in sorted(_revisions_of(info), key=lambda r: (r.last_used, r.repo_id, r.commit)):
        if over <= 0:
            break
        if rev.repo_id in keep:
            report.kept_in_use += 1
            continue
        chosen.append(rev)
        over -= rev.size
    if chosen:
        freed = delete_cached_revisions([r.commit for r in chosen], cache_dir=cache_dir)
        logger.info(
            "cache over budget (%d > %d bytes): deleted %d revisions, %d bytes",
            before,
            budget,
            len(chosen),
            freed,
        )
        report.deleted = chosen
    report.size_after = cache_size(cache_dir=cache_dir)
    return report
