"""Sampled kinship: estimate metrics from random contiguous blocks of every tensor.

Design: stratified sampling with every tensor a stratum.  A tensor of N elements is cut
into slots of B elements (B grows with the tensor so no tensor needs more than
``MAX_BLOCKS`` blocks); ``m ≈ fraction·N/B`` slots are drawn without replacement and only
their byte ranges are read (``pread`` locally, HTTP Range on the Hub).  Totals are
Horvitz–Thompson estimates (each block weighted slots/m); metrics are the usual functions
of the estimated totals.  The interval is a percentile bootstrap resampling blocks within
each tensor (tensors with a single block are pooled, so they still contribute variance),
vectorized over all resamples at once.

When sampling cannot save bytes the models are measured exactly instead, through the
same opened sources (local mappings or HTTP Range, so nothing is downloaded), and the
result says so (``mode`` ``exact``, ``note``): when the three models' compared weights
are under ``SAMPLE_MIN_BYTES`` (16 MiB), or when the chosen blocks would read at least
``COVER_LIMIT`` (80%) of the bytes an exact pass reads (small tensors are read whole as
one block).  ``KINHUB_SAMPLE_FALLBACK=0`` turns this off (always sample, e.g. to study
the sampler itself on small models).
"""

from __future__ import annotations

import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from kinhub.kinship import metrics as registry
from kinhub.kinship.execute import DEFAULT_CHUNK, measure_exact
from kinhub.kinship.fused import to_float32
from kinhub.kinship.plan import PlanEntry, plan_native
from kinhub.kinship.result import KinshipResult
from kinhub.kinship.sums import Sums
from kinhub.kinship.weights import ModelWeights, open_folder

logger = logging.getLogger(__name__)

MIN_BLOCK = 256
MAX_BLOCKS = 64
# Over HTTP every block costs a request per model (and the Hub rate-limits them):
# larger, fewer blocks keep a 7B model at 2% to thousands of requests, not tens of thousands.
REMOTE_MIN_BLOCK = 4096
REMOTE_MAX_BLOCKS = 16
RESAMPLES = 1000
# When sampling cannot save bytes, measure exactly (see the module docstring).
SAMPLE_MIN_BYTES = 16 * 2**20
COVER_LIMIT = 0.8
ENV_FALLBACK = "KINHUB_SAMPLE_FALLBACK"
# Exact reads over HTTP in the fallback: few large Range requests, not many small ones.
REMOTE_EXACT_CHUNK = 1 << 21
_STATS = ("n", "sa", "sb", "saa", "sbb", "sab", "agree", "both")


@dataclass(frozen=True)
class Block:
    entry: int
    lo: int
    hi: int
    weight: float


def choose_blocks(
    entries: list[PlanEntry],
    fraction: float,
    rng: np.random.Generator,
    *,
    min_block: int = MIN_BLOCK,
    max_blocks: int = MAX_BLOCKS,
) -> list[Block]:
    """Stratified block sample: every tensor contributes in proportion to its size."""
    out: list[Block] = []
    for i, e in enumerate(entries):
        want = fraction * e.numel
        size = min(e.numel, max(min_block, math.ceil(want / max_blocks)))
        slots = math.ceil(e.numel / size)
        m = min(slots, max(1, round(want / size)))
        for s in np.sort(rng.choice(slots, size=m, replace=False)):
            lo = int(s) * size
            out.append(Block(i, lo, min(e.numel, lo + size), slots / m))
    return out


def _block_stats(
    models: tuple[ModelWeights, ModelWeights, ModelWeights], e: PlanEntry, b: Block
) -> np.ndarray:
    n = b.hi - b.lo
    ta, tb, tz = (
        to_float32(m.read_array(info, b.lo, b.hi), info.dtype, np.empty(n, np.uint32)).astype(
            np.float64
        )
        for m, info in zip(models, (e.a, e.b, e.z), strict=True)
    )
    for m, info in zip(models, (e.a, e.b, e.z), strict=True):
        m.release(info, b.lo, b.hi)  # keep the resident set to the blocks in flight
    a, bb = ta - tz, tb - tz
    nz = (a != 0) & (bb != 0)
    return np.array(
        [
            n,
            a.sum(),
            bb.sum(),
            a @ a,
            bb @ bb,
            a @ bb,
            np.count_nonzero(nz & ((a > 0) == (bb > 0))),
            np.count_nonzero(nz),
        ],
        dtype=np.float64,
    )


def _sums(v: np.ndarray) -> Sums:
    s = Sums()
    for name, x in zip(_STATS, v, strict=True):
        setattr(s, name, float(x))
    return s


def _bootstrap(
    blocks: list[Block], contrib: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """[resamples, stats] bootstrap totals, resampling blocks with replacement within each
    tensor (tensors with a single block form one pooled group).

    Deviations from each group's mean are scaled by √(m/(m−1)) (the rescaling bootstrap)
    so that groups of few blocks do not understate the variance.
    """
    counts: dict[int, int] = {}
    for b in blocks:
        counts[b.entry] = counts.get(b.entry, 0) + 1
    group = np.array([b.entry if counts[b.entry] > 1 else -1 for b in blocks])
    order = np.argsort(group, kind="stable")
    g_sorted = group[order]
    starts = np.searchsorted(g_sorted, g_sorted, side="left")
    sizes = np.searchsorted(g_sorted, g_sorted, side="right") - starts
    c = contrib[order]
    _, first, inverse = np.unique(g_sorted, return_index=True, return_inverse=True)
    means = np.add.reduceat(c, first, axis=0) / sizes[first][:, None]
    m = sizes.astype(np.float64)[:, None]
    k = np.sqrt(np.where(m > 1, m / np.maximum(m - 1, 1), 1.0))
    adjusted = means[inverse] + k * (c - means[inverse])
    out = np.empty((resamples, contrib.shape[1]))
    batch = 200  # bounds the gathered [batch, blocks, stats] array
    for r0 in range(0, resamples, batch):
        u = rng.random((min(batch, resamples - r0), len(blocks)))
        pick = starts + np.floor(u * sizes).astype(np.int64)
        out[r0 : r0 + len(u)] = adjusted[pick].sum(axis=1)
    return out


def exact_instead(entries: list[PlanEntry], blocks: list[Block]) -> str | None:
    """Why sampling these ``blocks`` would save nothing (the note of the exact result), or
    None to sample.  ``KINHUB_SAMPLE_FALLBACK=0`` (read now) always samples."""
    if os.environ.get(ENV_FALLBACK, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    exact = sum(e.bytes for e in entries)
    sampled = 0
    for b in blocks:
        e = entries[b.entry]
        sampled += (b.hi - b.lo) * (e.a.itemsize + e.b.itemsize + e.z.itemsize)
    if exact < SAMPLE_MIN_BYTES:
        return (
            f"computed exactly: the compared weights are {exact:,} bytes, under the "
            f"{SAMPLE_MIN_BYTES:,} below which sampling saves nothing"
        )
    if sampled >= COVER_LIMIT * exact:
        return (
            f"computed exactly: the sample would read {sampled:,} of the {exact:,} bytes "
            f"({sampled / exact:.0%})"
        )
    return None


def _open_for_sampling(ref: str, endpoint: str | None) -> ModelWeights:
    if Path(ref).is_dir():
        return open_folder(Path(ref), ref=ref)
    from kinhub.kinship.remote import open_remote

    return open_remote(ref, endpoint=endpoint)


def sample_kinship(
    a: str,
    b: str,
    base: str,
    *,
    metrics: list[str],
    fraction: float,
    seed: int = 0,
    endpoint: str | None = None,
    per_tensor: bool = False,
    resamples: int = RESAMPLES,
    workers: int = 8,
) -> KinshipResult:
    """Estimate native metrics from ``fraction`` of every tensor's elements.

    Raises:
        ValueError: fraction outside (0, 1].
        InvalidRepoIdError, ModelSourceError, WeightsFormatError, PlanError.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction}")
    t0 = time.perf_counter()
    chosen = [registry.get(m) for m in metrics]
    ms = tuple(_open_for_sampling(r, endpoint) for r in (a, b, base))
    models = (ms[0], ms[1], ms[2])
    try:
        plan = plan_native(*models)
        rng = np.random.default_rng(seed)
        remote = any(not Path(r).is_dir() for r in (a, b, base))
        blocks = choose_blocks(
            plan.entries,
            fraction,
            rng,
            min_block=REMOTE_MIN_BLOCK if remote else MIN_BLOCK,
            max_blocks=REMOTE_MAX_BLOCKS if remote else MAX_BLOCKS,
        )
        note = exact_instead(plan.entries, blocks)
        if note is not None:
            logger.info("%s", note)
            exact_values, exact_breakdown = measure_exact(
                plan,
                models,
                chosen,
                per_tensor=per_tensor,
                workers=workers if remote else None,
                chunk=REMOTE_EXACT_CHUNK if remote else DEFAULT_CHUNK,
            )
            return KinshipResult(
                a=a,
                b=b,
                base=base,
                metrics=exact_values,
                params_compared=plan.params,
                bytes_read=sum(mm.bytes_read for mm in models),
                seconds=time.perf_counter() - t0,
                dropped=plan.dropped,
                mode="exact",
                revisions={
                    s: mm.revision for s, mm in zip(("a", "b", "base"), models, strict=True)
                },
                sample_fraction=fraction,
                seed=seed,
                breakdown=exact_breakdown,
                note=note,
            )
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = list(
                pool.map(lambda bl: _block_stats(models, plan.entries[bl.entry], bl), blocks)
            )
        stats = np.stack(rows)  # [blocks, stats]
        w = np.array([bl.weight for bl in blocks])[:, None]
        contrib = stats * w
        per_entry = np.zeros((len(plan.entries), len(_STATS)))
        np.add.at(per_entry, np.array([bl.entry for bl in blocks]), contrib)
        per = {e.name: _sums(per_entry[i]) for i, e in enumerate(plan.entries)}
        tot = _sums(contrib.sum(axis=0))
        inp = registry.MetricInput(tot, per, plan.entries)
        values = {m.name: m.compute(inp) for m in chosen}
        reps = _bootstrap(blocks, contrib, resamples, rng)  # [resamples, stats]
        intervals: dict[str, Any] = {}
        for m in chosen:
            if not isinstance(values[m.name], float):
                continue
            vals = np.array(
                [m.compute(registry.MetricInput(_sums(r), per, plan.entries)) for r in reps]
            )
            vals = vals[np.isfinite(vals)]
            if vals.size:
                lo, hi = np.percentile(vals, [2.5, 97.5])
                intervals[m.name] = {"low": float(lo), "high": float(hi), "level": 0.95}
        breakdown: dict[str, Any] = {}
        if per_tensor:
            breakdown = {
                k: {"cs": registry.cosine(s), "pcc": registry.pearson(s)} for k, s in per.items()
            }
        return KinshipResult(
            a=a,
            b=b,
            base=base,
            metrics=values,
            params_compared=int(stats[:, 0].sum()),
            bytes_read=sum(mm.bytes_read for mm in models),
            seconds=time.perf_counter() - t0,
            dropped=plan.dropped,
            mode="sampled",
            revisions={s: mm.revision for s, mm in zip(("a", "b", "base"), models, strict=True)},
            intervals=intervals,
            sample_fraction=fraction,
            seed=seed,
            breakdown=breakdown,
        )
    finally:
        for mm in models:
            mm.close()
