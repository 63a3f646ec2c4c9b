"""Kinship from three stored sketches: no weights are read.

The sketches of A, B and the base Z hold their values at the same coordinates (one
plan), so the task vectors' entries there are ``a = A − Z`` and ``b = B − Z``.  Each
block of the plan gives the sums of one block (n, Σa, Σb, Σa², Σb², Σab, sign
counts); weighted by the slots it stands for they are Horvitz–Thompson estimates of
the whole task vectors' sums, from which the registry's metrics follow as in exact
mode.  The 95% interval is the sampled mode's percentile bootstrap (blocks resampled
within each tensor, :func:`kinhub.kinship.sampled._bootstrap`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from kinhub.kinship import metrics as registry
from kinhub.kinship.errors import KinshipError
from kinhub.kinship.plan import PlanEntry, layer_index
from kinhub.kinship.result import KinshipResult
from kinhub.kinship.sampled import _STATS, RESAMPLES, Block, _bootstrap, _sums
from kinhub.kinship.sketch_plan import SketchLayout
from kinhub.kinship.weights import TensorInfo

MODE = "sketch"


class SketchMismatchError(KinshipError):
    """Sketches that do not line up (another plan: other tensors, size or seed)."""


def _entries(layout: SketchLayout) -> list[PlanEntry]:
    out = []
    for t in layout.tensors:
        info = TensorInfo(t.name, "", "F32", (t.numel,), 0, 0)
        out.append(PlanEntry(t.name, info, info, info, t.numel, layer_index(t.name)))
    return out


def block_stats(
    layout: SketchLayout, a: np.ndarray, b: np.ndarray, z: np.ndarray
) -> tuple[list[Block], np.ndarray]:
    """The plan's blocks and their sums ``[blocks, stats]`` (unweighted)."""
    blocks: list[Block] = []
    starts: list[int] = []
    pos = 0
    for i, t in enumerate(layout.tensors):
        w = t.weight(layout.block)
        for lo, hi in t.spans(layout.block):
            blocks.append(Block(i, lo, hi, w))
            starts.append(pos)
            pos += hi - lo
    if not (a.size == b.size == z.size == pos):
        raise SketchMismatchError(f"sketch lengths {a.size}, {b.size}, {z.size} != plan {pos}")
    da = a.astype(np.float64) - z
    db = b.astype(np.float64) - z
    nz = (da != 0) & (db != 0)
    agree = nz & ((da > 0) == (db > 0))
    idx = np.asarray(starts, dtype=np.int64)
    ones = np.ones_like(da)
    columns = (ones, da, db, da * da, db * db, da * db, agree.astype(np.float64), nz)
    stats = np.stack([np.add.reduceat(np.asarray(c, np.float64), idx) for c in columns], axis=1)
    return blocks, stats


def compare(
    layout: SketchLayout,
    a: np.ndarray,
    b: np.ndarray,
    z: np.ndarray,
    *,
    metrics: list[str],
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """``(metrics, intervals, values compared)`` of A and B against Z from their sketches.

    Raises: SketchMismatchError, UnknownMetricError.
    """
    chosen = [registry.get(m) for m in metrics]
    entries = _entries(layout)
    blocks, stats = block_stats(layout, a, b, z)
    w = np.array([bl.weight for bl in blocks])[:, None]
    contrib = stats * w
    per_entry = np.zeros((len(entries), len(_STATS)))
    np.add.at(per_entry, np.array([bl.entry for bl in blocks]), contrib)
    per = {e.name: _sums(per_entry[i]) for i, e in enumerate(entries)}
    inp = registry.MetricInput(_sums(contrib.sum(axis=0)), per, entries)
    values = {m.name: m.compute(inp) for m in chosen}
    reps = _bootstrap(blocks, contrib, resamples, np.random.default_rng(seed))
    intervals: dict[str, Any] = {}
    for m in chosen:
        if not isinstance(values[m.name], float):
            continue
        vals = np.array([m.compute(registry.MetricInput(_sums(r), per, entries)) for r in reps])
        vals = vals[np.isfinite(vals)]
        if vals.size:
            lo, hi = np.percentile(vals, [2.5, 97.5])
            intervals[m.name] = {"low": float(lo), "high": float(hi), "level": 0.95}
    return values, intervals, int(stats[:, 0].sum())


def sketch_result(
    layout: SketchLayout,
    values: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    refs: tuple[str, str, str],
    revisions: tuple[str | None, str | None, str | None],
    metrics: list[str],
    bytes_read: int = 0,
) -> KinshipResult:
    """A :class:`KinshipResult` (mode ``sketch``) from three aligned sketches."""
    t0 = time.perf_counter()
    found, intervals, compared = compare(layout, *values, metrics=metrics)
    return KinshipResult(
        a=refs[0],
        b=refs[1],
        base=refs[2],
        metrics=found,
        params_compared=compared,
        bytes_read=bytes_read,
        seconds=time.perf_counter() - t0,
        dropped={},
        mode=MODE,
        revisions=dict(zip(("a", "b", "base"), revisions, strict=True)),
        intervals=intervals,
    )


# -- many candidates against one model (``kinhub relatives``) ------------------------------


def value_weights(layout: SketchLayout) -> np.ndarray:
    """Each value's Horvitz–Thompson weight in plan order: the slots its block stands
    for, the weight :func:`compare` gives that block's sums."""
    counts = [sum(hi - lo for lo, hi in t.spans(layout.block)) for t in layout.tensors]
    weights = [t.weight(layout.block) for t in layout.tensors]
    return np.repeat(np.asarray(weights, np.float64), counts)


def weighted_cosines(weights: np.ndarray, target: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The ``cs`` of :func:`compare` between task vector ``target`` and each row of
    ``rows`` (task vectors of one plan, ``[n]`` and ``[m, n]``): Σw·a·b / √(Σw·a²·Σw·b²),
    0 where a task vector is zero.

    Raises: SketchMismatchError (lengths differ from the plan's)."""
    if not (weights.size == target.size == rows.shape[-1]):
        raise SketchMismatchError(
            f"sketch lengths {target.size}, {rows.shape[-1]} != plan {weights.size}"
        )
    t = target.astype(np.float64)
    wt = weights * t
    r = rows.astype(np.float64)
    dots = r @ wt
    norms = np.sqrt(np.einsum("ij,ij,j->i", r, r, weights) * float(t @ wt))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
