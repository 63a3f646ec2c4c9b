"""ModelKinship (zjunlp/ModelKinship ``merge_cal``) conventions, streamed in float64.

What the reference does, reproduced here:

* task vectors over the base model's state-dict keys (a tied ``lm_head.weight`` is its
  own key, so a tied embedding counts twice); keys missing in A or B are skipped;
* the first dimension of every A and B tensor is cut to the base's vocabulary rows
  (``lm_head.weight.shape[0]`` of the base);
* ``cs`` is the *absolute* cosine √((a·b)² / (a·a · b·b)); ``pcc`` is Pearson; ``ed`` is
  the Euclidean distance;
* ``split``: the metric per key, averaged weighted by element count, NaN keys skipped
  (and keys whose shapes do not match are skipped, where full mode fails);
* ``low_precision``: each task vector is rescaled to 127 integer levels,
  ``clamp(round(127·(x / max|x|)), −127, 127)`` (round half to even) — the whole
  concatenated vector in full mode, each key separately in split mode.

Differences on purpose: sums are float64 (the reference uses float32 throughout), the
weights are streamed instead of loaded whole, and errors are raised, not printed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kinhub.kinship.engine import opened
from kinhub.kinship.errors import PlanError, UnknownMetricError
from kinhub.kinship.execute import Options, execute, total
from kinhub.kinship.metrics import abs_cosine, euclid, pearson
from kinhub.kinship.plan import plan_modelkinship
from kinhub.kinship.sums import Sums

#: metric name -> (reference's pretty name, value from float64 sums)
METRICS: dict[str, tuple[str, Callable[[Sums], float]]] = {
    "pcc": ("Pearson Correlation Coefficient", pearson),
    "ed": ("Euclidean Distance", euclid),
    "cs": ("Cosine Similarity", abs_cosine),
}


@dataclass
class CompatResult:
    """Values in the reference's conventions plus what the run cost."""

    metrics: dict[str, float]
    split: bool
    low_precision: bool
    params_compared: int
    bytes_read: int
    seconds: float
    dropped: dict[str, Any] = field(default_factory=dict)
    per_tensor: dict[str, dict[str, float]] = field(default_factory=dict)
    revisions: dict[str, str | None] = field(default_factory=dict)


def parse_metrics(spec: str) -> list[str]:
    """``"cs,pcc,ed"`` or ``"cs pcc ed"`` -> names.

    Raises:
        UnknownMetricError: a name other than cs, pcc, ed.
    """
    names = [n for n in spec.replace(",", " ").split() if n]
    if not names:
        raise UnknownMetricError("", list(METRICS))
    for n in names:
        if n not in METRICS:
            raise UnknownMetricError(n, list(METRICS))
    return names


def reference_line(name: str, value: float, *, split: bool) -> str:
    """The reference's output line for one metric (split mode prints 4 decimals)."""
    pretty = METRICS[name][0]
    if split:
        return f"{name}: Model Kinship based on {pretty} (weighted average): {value:.4f}"
    return f"{name}: Model Kinship based on {pretty}: {value}"


def modelkinship(
    a: str,
    b: str,
    base: str,
    *,
    metrics: list[str],
    low_precision: bool = False,
    split: bool = False,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    workers: int | None = None,
) -> CompatResult:
    """Kinship in the reference's conventions (see module docstring).

    Raises:
        PlanError: two of the three models are the same, or (full mode) a tensor's shape
            differs from the base after the vocabulary cut.
        UnknownMetricError, ModelSourceError, PickleRefusedError, WeightsFormatError.
    """
    for n in metrics:
        if n not in METRICS:
            raise UnknownMetricError(n, list(METRICS))
    if len({a, b, base}) < 3:
        raise PlanError("All model names must be different")
    t0 = time.perf_counter()
    with opened(
        (a, b, base), allow_pickle=allow_pickle, endpoint=endpoint, cache_dir=cache_dir
    ) as ms:
        plan = plan_modelkinship(*ms)
        if plan.mismatched and not split:
            raise PlanError(
                "shapes differ from the base after the vocabulary cut (the reference fails "
                f"here; --split-calculation skips them): {', '.join(plan.mismatched)}"
            )
        if not plan.entries:
            raise PlanError("no key of the base model is comparable")
        quant: dict[str, tuple[float, float]] | None = None
        if low_precision:
            maxes = execute(plan, ms, opts=Options(moments=False, absmax=True), workers=workers)
            if split:
                quant = {k: (s.amax_a, s.amax_b) for k, s in maxes.items()}
            else:
                t = total(maxes)
                quant = {k: (t.amax_a, t.amax_b) for k in maxes}
        sums = execute(plan, ms, opts=Options(quantize=quant), workers=workers)
        values: dict[str, float] = {}
        per_tensor: dict[str, dict[str, float]] = {}
        skipped: dict[str, list[str]] = {}
        for name in metrics:
            fn = METRICS[name][1]
            if not split:
                values[name] = fn(total(sums))
                continue
            num = den = 0.0
            for key, s in sums.items():
                v = fn(s)
                per_tensor.setdefault(key, {})[name] = v
                if math.isnan(v):
                    skipped.setdefault(name, []).append(key)
                    continue
                num += v * s.n
                den += s.n
            if den == 0:
                raise PlanError(f"no valid parameters found for {name.upper()} calculation")
            values[name] = num / den
        dropped = dict(plan.dropped)
        if skipped:
            dropped["nan_skipped"] = skipped
        return CompatResult(
            metrics=values,
            split=split,
            low_precision=low_precision,
            params_compared=plan.params,
            bytes_read=sum(m.bytes_read for m in ms),
            seconds=time.perf_counter() - t0,
            dropped=dropped,
            per_tensor=per_tensor,
            revisions={s: m.revision for s, m in zip(("a", "b", "base"), ms, strict=True)},
        )
