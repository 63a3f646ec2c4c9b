"""Does kinship predict merge gain?  Pearson correlations and a scatter plot.

Reproduces the analysis of Hu et al. (2024), section 3 (arXiv 2410.12613) on
whatever the database holds: for each kinship metric, Pearson's r and its
two-sided p-value (``scipy.stats.pearsonr``) of the merge gain, and of its
magnitude ``|gain|``, against the metric, over the merges that have both (see
:mod:`kinhub.db.answers.gain` for which merges count and how gain and kinship are read).
The plot (matplotlib, Agg backend, loaded only when asked for) shows gain against
each metric, one panel per metric, with the least-squares line.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinhub.db.answers.gain import GAIN_METRICS, GainCensus, MergeGain, merge_gains
from kinhub.kinship.errors import KinshipError
from sqlmodel import Session

logger = logging.getLogger(__name__)

TARGETS = ("gain", "abs_gain")


class UnknownGainMetricError(KinshipError, ValueError):
    """A metric name that the gain analysis does not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown metric {name!r}; known: {', '.join(GAIN_METRICS)}")


class NoGainDataError(KinshipError, LookupError):
    """No merge in the database has what the analysis needs."""

    def __init__(self, census: GainCensus) -> None:
        self.census = census
        super().__init__(
            "no merge to analyse: a merge needs card evaluations that share a benchmark with "
            "every ingredient's, and a stored kinship of its ingredients "
            f"(found {census.merges} merges with two or more ingredients, "
            f"{census.merges_with_evaluations} with evaluations, "
            f"{census.merges_with_shared_benchmarks} sharing benchmarks with their ingredients)"
        )


@dataclass(frozen=True)
class Correlation:
    """Pearson's r of a target (gain or |gain|) against one metric; None when undefined."""

    r: float | None
    p_value: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"r": self.r, "p_value": self.p_value, "n": self.n}


@dataclass(frozen=True)
class GainReport:
    metrics: tuple[str, ...]
    merges: list[MergeGain]
    correlations: dict[str, dict[str, Correlation]]  # metric -> target -> result

    def points(self, metric: str) -> tuple[list[float], list[float]]:
        """(metric values, gains) of the merges that have a value of ``metric``."""
        pairs = [(m.kinship[metric], m.gain) for m in self.merges]
        kept = [(x, g) for x, g in pairs if x is not None]
        return [x for x, _ in kept], [g for _, g in kept]

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "sample_size": len(self.merges),
            "correlations": {
                metric: {target: c.to_json() for target, c in by_target.items()}
                for metric, by_target in self.correlations.items()
            },
            "merges": [m.to_json() for m in self.merges],
        }


def pearson(xs: Sequence[float], ys: Sequence[float]) -> Correlation:
    """``scipy.stats.pearsonr`` of two samples; r and p are None below three points or
    when either sample is constant (r is undefined there)."""
    n = len(xs)
    if n < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return Correlation(r=None, p_value=None, n=n)
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.pearsonr(xs, ys)
    r, p = float(result.statistic), float(result.pvalue)
    if not math.isfinite(r):
        return Correlation(r=None, p_value=None, n=n)
    return Correlation(r=r, p_value=p if math.isfinite(p) else None, n=n)


def resolve_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """The metrics asked for (``all`` means every one), in registry order.

    Raises:
        UnknownGainMetricError: a name that is neither a metric nor ``all``.
    """
    wanted: set[str] = set()
    for name in names:
        if name == "all":
            wanted.update(GAIN_METRICS)
        elif name in GAIN_METRICS:
            wanted.add(name)
        else:
            raise UnknownGainMetricError(name)
    return tuple(m for m in GAIN_METRICS if m in wanted) or GAIN_METRICS


def analyze_gain(session: Session, *, metrics: Sequence[str] = ("all",)) -> GainReport:
    """Correlations of merge gain and |gain| with each metric, over the stored merges.

    Raises:
        UnknownGainMetricError: a metric name that is not known.
        NoGainDataError: no merge has shared benchmarks with its ingredients and a
            stored ingredient-pair kinship.
    """
    chosen = resolve_metrics(metrics)
    merges, census = merge_gains(session)
    if not merges:
        raise NoGainDataError(census)
    report = GainReport(metrics=chosen, merges=merges, correlations={})
    for metric in chosen:
        xs, gains = report.points(metric)
        report.correlations[metric] = {
            "gain": pearson(xs, gains),
            "abs_gain": pearson(xs, [abs(g) for g in gains]),
        }
    logger.info("merge gain: %d merges, metrics %s", len(merges), ", ".join(chosen))
    return report


def plot_gain(report: GainReport, *, path: Path) -> Path:
    """Write a PNG: gain against each metric, one panel per metric, with the fitted line."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * len(report.metrics), 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(report.metrics), squeeze=False)[0]
    for ax, metric in zip(axes, report.metrics, strict=True):
        xs, gains = report.points(metric)
        ax.scatter(xs, gains, s=14, alpha=0.7, color="tab:blue", edgecolors="none")
        ax.axhline(0.0, color="0.7", linewidth=0.8)
        found = report.correlations[metric]["gain"]
        if found.r is not None:
            slope, intercept = np.polyfit(xs, gains, 1)
            line_x = np.linspace(min(xs), max(xs), 2)
            ax.plot(line_x, slope * line_x + intercept, color="tab:red", linewidth=1.5)
            title = f"{metric}: r = {found.r:.3f}, p = {found.p_value:.2g}, n = {found.n}"
        else:
            title = f"{metric}: r undefined, n = {found.n}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"kinship ({metric}) of the ingredients")
        ax.set_ylabel("merge gain (child − mean of ingredients)")
        ax.grid(True, linewidth=0.3, alpha=0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


__all__ = [
    "Correlation",
    "GainReport",
    "NoGainDataError",
    "UnknownGainMetricError",
    "analyze_gain",
    "pearson",
    "plot_gain",
    "resolve_metrics",
]
