"""Judge declared lineage from stored sketches and store the verdicts.

For each child, its edges are read and judged by :mod:`kinhub.kinship.weight_check`:

* **recipe edges** (``mergekit_config``, else ``card_recipe``; relation ``merge``): the
  ingredients together, against the recipe's anchor (role ``base``) or, for methods
  without one, the ingredients' nearest common ancestor — the same base the kinship
  edge jobs use (:mod:`kinhub.db.jobs.plan`); the anchor itself by distance.  A
  multi-stage recipe (its parents feed intermediate models) and LoRA-modified inputs
  are ``unverified``.
* **metadata merge edges** (front matter, Hub tags) of a child with no recipe: the
  declared parents together, against their nearest common ancestor.
* **fine-tune edges**: the share of the parent's change the child keeps, against the
  parent's nearest sketched ancestor; the distance to a parent with none.

Slices, MoE experts, adapters and quantized copies are not judged (lineage shows them
``unverified`` with the reason).  Every model involved needs a sketch of one plan: a
missing sketch makes the child's edges ``unverified`` with the model named.  The
sketch of a model is the one of its stored sha, else its latest.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from kinhub.db import sketch_store
from kinhub.db.answers.evidence import source_rank
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import RECIPE_SOURCES, Genealogy
from kinhub.db.models import Edge, Model
from kinhub.db.timeutil import utcnow
from kinhub.db.weight_checks import replace_checks
from kinhub.kinship.sketch_compare import value_weights
from kinhub.kinship.sketch_plan import SketchLayout
from kinhub.kinship.weight_check import (
    VERDICTS,
    Judgement,
    judge_distance,
    judge_finetune,
    judge_ingredients,
    unverified,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

logger = logging.getLogger(__name__)


class _Edge(NamedTuple):
    parent_id: int
    relation: str
    role: str
    source: str
    stage: str | None
    lora: str | None


@dataclass
class CheckSummary:
    """What a run of the checker stored: children judged and edges by verdict."""

    children: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"children": self.children, **{v: self.verdicts.get(v, 0) for v in VERDICTS}}


class _Sketches:
    """Sketch values by model id (of its stored sha, else the latest) and plan weights."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._values: dict[int, tuple[str, np.ndarray] | None] = {}
        self._weights: dict[str, np.ndarray] = {}

    def get(self, model_id: int) -> tuple[str, np.ndarray] | None:
        if model_id not in self._values:
            row = self.session.get(Model, model_id)
            found = sketch_store.load_sketch(self.session, model_id, row.sha if row else None)
            if found is None and row is not None and row.sha is not None:
                found = sketch_store.load_sketch(self.session, model_id, None)
            self._values[model_id] = (
                (found.plan_key, np.frombuffer(found.data, dtype="<f4")) if found else None
            )
        return self._values[model_id]

    def weights(self, key: str) -> np.ndarray:
        if key not in self._weights:
            plan = sketch_store.load_plan(self.session, key)
            if plan is None:
                raise LookupError(f"sketch plan {key[:12]} is not stored")
            layout = SketchLayout.from_stored(
                key=plan.key, size=plan.size, block=plan.block, seed=plan.seed, layout=plan.layout
            )
            self._weights[key] = value_weights(layout)
        return self._weights[key]


class _Judge:
    """Judgements of one child's edges: parent id → (judgement, base repo id)."""

    def __init__(self, session: Session, graph: Genealogy, sketches: _Sketches) -> None:
        self.session = session
        self.graph = graph
        self.sketches = sketches

    def name(self, model_id: int) -> str:
        return self.graph.model(model_id).repo_id

    def _aligned(self, ids: Sequence[int]) -> tuple[np.ndarray, list[np.ndarray]] | str:
        """(weights, values per id) when every id has a sketch of one plan, else why not."""
        found = [self.sketches.get(i) for i in ids]
        missing = [self.name(i) for i, f in zip(ids, found, strict=True) if f is None]
        if missing:
            return "no sketch of " + ", ".join(dict.fromkeys(missing)) + " (run `kinhub sketch`)"
        keys = {f[0] for f in found if f is not None}
        if len(keys) != 1:
            return "the sketches come from different plans (tensor names or shapes differ)"
        try:
            weights = self.sketches.weights(keys.pop())
        except LookupError as exc:
            return str(exc)
        values = [f[1] for f in found if f is not None]
        if any(v.size != weights.size for v in values):
            return "a sketch does not match its plan's length"
        bad = [self.name(i) for i, v in zip(ids, values, strict=True) if not np.isfinite(v).all()]
        if bad:  # hostile or broken weights: nothing to judge, and no error to raise
            return "non-finite values (NaN or infinity) in the sketch of " + ", ".join(bad)
        return weights, values

    def merge(
        self, child: int, ingredients: list[int], anchors: list[int]
    ) -> dict[int, tuple[Judgement, str | None]]:
        out: dict[int, tuple[Judgement, str | None]] = {}
        base = anchors[0] if anchors else self.graph.nearest_common_ancestor(ingredients)
        if base is None:
            for p in ingredients:
                out[p] = (unverified("no common ancestor to take changes against"), None)
            return out
        base_name = self.name(base)
        for a in anchors:
            got = self._aligned([child, a])
            out[a] = (
                unverified(got) if isinstance(got, str) else judge_distance(got[0], *got[1]),
                base_name,
            )
        judged = [p for p in ingredients if p != base]
        got = self._aligned([child, base, *judged])
        if isinstance(got, str):
            for p in judged:
                out[p] = (unverified(got), base_name)
        else:
            weights, (c, z, *ps) = got
            for p, j in zip(judged, judge_ingredients(weights, c, ps, z), strict=True):
                out[p] = (j, base_name)
        if base in ingredients and base not in out:
            got = self._aligned([child, base])
            out[base] = (
                unverified(got) if isinstance(got, str) else judge_distance(got[0], *got[1]),
                base_name,
            )
        return out

    def finetune(self, child: int, parent: int) -> tuple[Judgement, str | None]:
        hops = self.graph.ancestors(parent)
        for base in sorted(hops, key=lambda b: (hops[b], self.name(b))):
            if base in (child, parent):
                continue
            got = self._aligned([child, parent, base])
            if not isinstance(got, str):
                weights, (c, p, z) = got
                return judge_finetune(weights, c, p, z), self.name(base)
        got = self._aligned([child, parent])
        if isinstance(got, str):
            return unverified(got), None
        return judge_distance(got[0], *got[1]), None


def _judge_child(judge: _Judge, child: int) -> dict[int, tuple[Judgement, str | None]]:
    rows = judge.session.execute(
        sa_select(
            col(Edge.parent_id),
            col(Edge.relation),
            col(Edge.role),
            col(Edge.source),
            col(Edge.stage),
            col(Edge.lora),
        )
        .where(col(Edge.child_id) == child)
        .where(col(Edge.relation).in_(("merge", "finetune")))
        .where(col(Edge.parent_id) != child)
    )
    edges = [_Edge(*r) for r in rows]
    out: dict[int, tuple[Judgement, str | None]] = {}
    recipe = [e for e in edges if e.relation == "merge" and e.source in RECIPE_SOURCES]
    if recipe:
        best = min({e.source for e in recipe}, key=source_rank)
        recipe = [e for e in recipe if e.source == best]
        if {e.stage for e in recipe} != {None}:
            for e in recipe:
                out[e.parent_id] = (
                    unverified("multi-stage recipe: parents feed intermediate models"),
                    None,
                )
        else:
            for e in recipe:
                if e.role == "ingredient" and e.lora:
                    out[e.parent_id] = (unverified("LoRA-modified input"), None)
            ingredients = sorted({e.parent_id for e in recipe if e.role == "ingredient"} - set(out))
            anchors = sorted({e.parent_id for e in recipe if e.role == "base"})
            if ingredients:
                out.update(judge.merge(child, ingredients, anchors))
    declared = sorted(
        {e.parent_id for e in edges if e.relation == "merge" and e.role in ("parent", "ingredient")}
        - set(out)
    )
    if declared and not recipe:
        out.update(judge.merge(child, declared, []))
    for e in edges:
        if e.relation == "finetune" and e.parent_id not in out:
            out[e.parent_id] = judge.finetune(child, e.parent_id)
    return out


def _children(
    session: Session, repo_ids: Iterable[str] | None, *, with_children: bool = True
) -> list[int]:
    """Children to judge: with ``repo_ids`` None every child of a merge or fine-tune
    edge; else those models and (``with_children``) their children (a parent's new
    sketch changes their verdicts)."""
    query = sa_select(col(Edge.child_id)).where(col(Edge.relation).in_(("merge", "finetune")))
    if repo_ids is not None:
        names = list(dict.fromkeys(repo_ids))
        ids = list(session.exec(select(Model.id).where(col(Model.repo_id).in_(names))))
        named = col(Edge.child_id).in_(ids)
        query = query.where(named | col(Edge.parent_id).in_(ids) if with_children else named)
    return sorted({int(c) for (c,) in session.execute(query.distinct())})


def check_models(
    database: Database, repo_ids: Iterable[str] | None = None, *, with_children: bool = True
) -> CheckSummary:
    """Judge the edges of ``repo_ids`` and (``with_children``) of their children (None:
    every child in the database) from stored sketches and store the verdicts, one
    child per transaction (replacing its earlier checks)."""
    summary = CheckSummary()
    with database.session() as session:
        children = _children(session, repo_ids, with_children=with_children)
    for child in children:
        with database.write_transaction() as session:
            graph = Genealogy(session)
            judge = _Judge(session, graph, _Sketches(session))
            found = _judge_child(judge, child)
            now = utcnow()
            rows: list[dict[str, Any]] = [
                {
                    "parent_id": parent,
                    "verdict": j.verdict,
                    "rule": j.rule,
                    "score": j.score,
                    "threshold": j.threshold,
                    "base": base,
                    "evidence": j.evidence(),
                    "checked_at": now,
                }
                for parent, (j, base) in sorted(found.items())
            ]
            replace_checks(session, child, rows)
        summary.children += 1
        summary.verdicts.update(str(r["verdict"]) for r in rows)
    logger.info("weight checks: %s", summary.to_dict())
    return summary
