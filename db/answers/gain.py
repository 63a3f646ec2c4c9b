"""Merge-gain data: how much better a merge scores than its ingredients, with their kinship.

The data behind Hu et al. (2024)'s first finding ("kinship predicts merge gain"),
read from what the database holds:

* a **merge** is a model with ``merge`` edges; its **ingredients** are the parents
  with role ``ingredient`` (the models whose weights are combined; the anchor
  ``base`` is subtracted, not combined, and ``slice``/``parent`` roles say nothing
  about how a model was used), and it needs at least two;
* its **benchmarks** are the card evaluations (``task``, ``dataset``, ``metric``,
  with a value) that the merge *and every ingredient* report; a merge with none
  in common is left out;
* **gain** = the merge's average over those benchmarks − the mean of the
  ingredients' averages over the same benchmarks;
* its **kinship** is the stored kinship of its ingredient pairs (the worker's
  *pair jobs*): per pair one row — a finished pair job's result first, then a row
  against the merge's anchor, then the newest — and per metric the mean over the
  pairs that have a value (two ingredients: the one pair).  Rows measured against
  one of the pair itself are ignored.  A merge with no stored pair kinship is left
  out.

Values are averaged as written on the cards (no rescaling of 0–1 against 0–100
scores: a model's own benchmarks come from one card, and the shared-benchmark
rule compares like with like).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from kinhub.db.answers.names import GAIN_METRICS
from kinhub.db.jobs.keys import JobKind, JobStatus
from kinhub.db.models import Edge, Evaluation, Kinship, KinshipJob, Model
from sqlalchemy import select
from sqlmodel import Session, col

_CHUNK = 500

Benchmark = tuple[str, str, str]  # (task, dataset, metric)


@dataclass(frozen=True)
class MergeGain:
    """One merge with its gain over its ingredients and their kinship."""

    child: str
    ingredients: tuple[str, ...]
    base: str | None
    benchmarks: tuple[str, ...]
    child_average: float
    ingredients_average: float
    gain: float
    kinship: dict[str, float | None]
    pairs: int

    def to_json(self) -> dict[str, Any]:
        return {
            "child": self.child,
            "ingredients": list(self.ingredients),
            "base": self.base,
            "benchmarks": list(self.benchmarks),
            "child_average": self.child_average,
            "ingredients_average": self.ingredients_average,
            "gain": self.gain,
            "kinship": self.kinship,
            "pairs": self.pairs,
        }


@dataclass(frozen=True)
class GainCensus:
    """What the database holds, for the message when no merge qualifies."""

    merges: int
    merges_with_evaluations: int
    merges_with_shared_benchmarks: int


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _merges(session: Session) -> tuple[dict[int, set[int]], dict[int, int]]:
    """Ingredients and anchor of every merge child, from its merge edges (any source)."""
    ingredients: dict[int, set[int]] = defaultdict(set)
    anchors: dict[int, int] = {}
    rows = session.execute(
        select(col(Edge.child_id), col(Edge.parent_id), col(Edge.role)).where(
            col(Edge.relation) == "merge", col(Edge.role).in_(("ingredient", "base"))
        )
    )
    for child, parent, role in rows:
        if role == "base":
            anchors[child] = parent
        else:
            ingredients[child].add(parent)
    for child, anchor in anchors.items():
        ingredients.get(child, set()).discard(anchor)
    return {c: p for c, p in ingredients.items() if len(p) >= 2}, anchors


def _evaluations(session: Session) -> dict[int, dict[Benchmark, float]]:
    """Scores of every merge child, and of the ingredients of merges that have scores.

    Two statements with subqueries, not one look-up per chunk of ids: at a million
    models that was 1,156 round trips."""
    merge_edges = (
        select(col(Edge.child_id), col(Edge.parent_id))
        .where(col(Edge.relation) == "merge", col(Edge.role) == "ingredient")
        .subquery()
    )
    scored = select(col(Evaluation.model_id)).where(col(Evaluation.value).is_not(None))
    children = select(merge_edges.c.child_id)
    parents = select(merge_edges.c.parent_id).where(merge_edges.c.child_id.in_(scored))
    scores: dict[int, dict[Benchmark, float]] = defaultdict(dict)
    for wanted in (children, parents):
        rows = session.execute(
            select(
                col(Evaluation.model_id),
                col(Evaluation.task),
                col(Evaluation.dataset),
                col(Evaluation.metric),
                col(Evaluation.value),
            ).where(col(Evaluation.model_id).in_(wanted), col(Evaluation.value).is_not(None))
        )
        for model_id, task, dataset, metric, value in rows:
            scores[model_id][(task, dataset, metric)] = float(value)
    return scores


PairKey = tuple[int, int]  # (smaller model id, larger model id)


@dataclass
class _Measured:
    """Every usable stored row of each ingredient pair, and which came from pair jobs."""

    rows: dict[PairKey, list[Kinship]]
    from_pair_jobs: set[int]

    def best(self, pair: PairKey, anchor: int | None) -> Kinship | None:
        """The row for one merge: a finished pair job's result, then one against the
        merge's anchor, then the newest."""
        found = self.rows.get(pair)
        if not found:
            return None
        return max(
            found,
            key=lambda r: (r.id in self.from_pair_jobs, r.base_id == anchor, r.computed_at, r.id),
        )


def _pair_rows(session: Session, pairs: set[PairKey]) -> _Measured:
    ids = sorted({i for pair in pairs for i in pair})
    rows: dict[PairKey, list[Kinship]] = defaultdict(list)
    for chunk in _chunks(ids):
        query = select(Kinship).where(
            col(Kinship.model_a_id).in_(chunk), col(Kinship.model_b_id).is_not(None)
        )
        for row in session.scalars(query):
            a, b = row.model_a_id, row.model_b_id
            assert a is not None and b is not None
            key = (min(a, b), max(a, b))
            if key in pairs and row.base_id not in (a, b):
                rows[key].append(row)
    from_pair_jobs: set[int] = set()
    row_ids = sorted(r.id for found in rows.values() for r in found if r.id is not None)
    for chunk in _chunks(row_ids):
        from_pair_jobs.update(
            i
            for i in session.scalars(
                select(col(KinshipJob.kinship_id)).where(
                    col(KinshipJob.kinship_id).in_(chunk),
                    col(KinshipJob.kind) == JobKind.pair.value,
                    col(KinshipJob.status) == JobStatus.done.value,
                )
            )
            if i is not None
        )
    return _Measured(rows=rows, from_pair_jobs=from_pair_jobs)


def merge_gains(session: Session) -> tuple[list[MergeGain], GainCensus]:
    """Every merge that has shared benchmarks with its ingredients and a stored pair kinship.

    Returns the merges (ordered by child id) and a census of what was found on the
    way (for a clear message when the list is empty).
    """
    ingredients, anchors = _merges(session)
    scores = _evaluations(session)
    with_evals = [c for c in ingredients if scores.get(c)]
    shared: dict[int, list[Benchmark]] = {}
    for child in with_evals:
        common = set(scores[child])
        for parent in ingredients[child]:
            common &= set(scores.get(parent, {}))
        if common:
            shared[child] = sorted(common)
    census = GainCensus(
        merges=len(ingredients),
        merges_with_evaluations=len(with_evals),
        merges_with_shared_benchmarks=len(shared),
    )
    if not shared:
        return [], census
    pairs = {
        (min(a, b), max(a, b))
        for child in shared
        for a, b in combinations(sorted(ingredients[child]), 2)
    }
    measured = _pair_rows(session, pairs)
    wanted = set(shared) | {p for c in shared for p in ingredients[c]}
    wanted |= {anchors[c] for c in shared if c in anchors}
    names = _names(session, wanted)
    found: list[MergeGain] = []
    for child in sorted(shared):
        chosen = [
            measured.best(pair, anchors.get(child))
            for pair in combinations(sorted(ingredients[child]), 2)
        ]
        rows = [row for row in chosen if row is not None]
        if not rows:
            continue
        benchmarks = shared[child]
        child_avg = _mean(scores[child][b] for b in benchmarks)
        parent_avg = _mean(
            _mean(scores[p][b] for b in benchmarks) for p in sorted(ingredients[child])
        )
        found.append(
            MergeGain(
                child=names[child],
                ingredients=tuple(sorted(names[p] for p in ingredients[child])),
                base=names.get(anchors[child]) if child in anchors else None,
                benchmarks=tuple("/".join(b) for b in benchmarks),
                child_average=child_avg,
                ingredients_average=parent_avg,
                gain=child_avg - parent_avg,
                kinship={m: _metric_mean(rows, m) for m in GAIN_METRICS},
                pairs=len(rows),
            )
        )
    return found, census


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for chunk in _chunks(sorted(ids)):
        names.update(
            (i, r)
            for i, r in session.execute(
                select(col(Model.id), col(Model.repo_id)).where(col(Model.id).in_(chunk))
            )
        )
    return names


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items)


def _metric_mean(rows: list[Kinship], metric: str) -> float | None:
    values = [v for v in (getattr(r, metric) for r in rows) if v is not None]
    return _mean(values) if values else None


__all__ = ["GAIN_METRICS", "GainCensus", "MergeGain", "merge_gains"]
