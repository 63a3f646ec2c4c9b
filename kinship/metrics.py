"""Kinship metrics registry: each metric turns float64 sums into a value.

Native metrics (Hu et al. 2024 define cs/pcc/ed over task vectors; the others are
common companions).  Every metric has a name, a description and a reference URL;
``get`` raises a typed error listing the known names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kinhub.kinship.errors import UnknownMetricError
from kinhub.kinship.sums import Sums

if TYPE_CHECKING:  # plan -> weights -> torch; the registry itself stays import-light
    from kinhub.kinship.plan import PlanEntry

PAPER = "https://arxiv.org/abs/2410.12613"


@dataclass(frozen=True)
class MetricInput:
    """What a metric sees: whole-vector sums, per-tensor sums and the plan entries."""

    total: Sums
    per_tensor: Mapping[str, Sums]
    entries: list[PlanEntry]


@dataclass(frozen=True)
class Metric:
    name: str
    pretty: str
    description: str
    url: str
    compute: Callable[[MetricInput], Any]
    needs_sign: bool = False


def _div(num: float, den: float) -> float:
    return num / den if den else math.nan


def cosine(s: Sums) -> float:
    """Signed cosine Σab / √(Σa²·Σb²)."""
    return _div(s.sab, math.sqrt(s.saa * s.sbb))


def abs_cosine(s: Sums) -> float:
    """The reference's cosine: √((Σab)² / (Σa²·Σb²))."""
    return math.sqrt(_div(s.sab**2, s.saa * s.sbb)) if s.saa * s.sbb else math.nan


def pearson(s: Sums) -> float:
    if s.n == 0:
        return math.nan
    cov = s.sab - s.sa * s.sb / s.n
    va = s.saa - s.sa * s.sa / s.n
    vb = s.sbb - s.sb * s.sb / s.n
    return _div(cov, math.sqrt(va * vb)) if va > 0 and vb > 0 else math.nan


def euclid(s: Sums) -> float:
    v = s.saa + s.sbb - 2.0 * s.sab
    # NaN must stay NaN (quantizing an all-zero delta divides 0 by 0); max() would hide it.
    return math.nan if math.isnan(v) else math.sqrt(max(0.0, v))


def ratio(s: Sums) -> float:
    return math.sqrt(_div(s.saa, s.sbb))


def sign_agreement(s: Sums) -> float:
    return _div(float(s.agree), float(s.both))


def _layer_cs(inp: MetricInput) -> dict[str, float]:
    by_layer: dict[str, Sums] = {}
    for e in inp.entries:
        key = "other" if e.layer is None else str(e.layer)
        by_layer.setdefault(key, Sums()).add(inp.per_tensor[e.name])
    order = sorted(by_layer, key=lambda k: (k == "other", int(k) if k.isdigit() else 0))
    return {k: cosine(by_layer[k]) for k in order}


REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "cs",
            "Cosine Similarity",
            "signed cosine of the two task vectors",
            PAPER,
            lambda i: cosine(i.total),
        ),
        Metric(
            "pcc",
            "Pearson Correlation Coefficient",
            "Pearson correlation of the task-vector entries",
            PAPER,
            lambda i: pearson(i.total),
        ),
        Metric(
            "ed",
            "Euclidean Distance",
            "‖δ_A − δ_B‖ over the whole task vectors",
            PAPER,
            lambda i: euclid(i.total),
        ),
        Metric(
            "sign",
            "Sign Agreement",
            "share of entries non-zero in both task vectors that have the same sign",
            "https://arxiv.org/abs/2306.01708",
            lambda i: sign_agreement(i.total),
            needs_sign=True,
        ),
        Metric(
            "ratio",
            "Magnitude Ratio",
            "‖δ_A‖ / ‖δ_B‖",
            "https://arxiv.org/abs/2212.04089",
            lambda i: ratio(i.total),
        ),
        Metric(
            "layer_cs",
            "Per-layer Cosine Similarity",
            "signed cosine per transformer block (index parsed from tensor names; "
            "'other' holds embeddings, norms, lm_head)",
            PAPER,
            _layer_cs,
        ),
    )
}


DEFAULT_METRICS: tuple[str, ...] = ("cs", "pcc", "ed")
"""The metrics measured when none are named (``kinhub kinship``, the worker, the demo):
the kinship paper's three."""


def known() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> Metric:
    """Raises: UnknownMetricError listing the known metrics."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownMetricError(name, known()) from None


def parse_list(spec: str) -> list[str]:
    """``"cs,pcc ed"`` -> ``["cs", "pcc", "ed"]`` (commas and/or spaces), validated.

    Raises:
        UnknownMetricError: for the first unknown name.
    """
    names = [n for n in spec.replace(",", " ").split() if n]
    for n in names:
        get(n)
    return list(dict.fromkeys(names))
