"""Which kinship jobs the stored genealogy calls for: the planning rule, from edges alone.

The rule (also in docs/kinship.md, "Which jobs exist").  A *merge child* is a
model with recipe edges (source ``mergekit_config``, else ``card_recipe``: the
config is what mergekit ran, the card's copy is used only when there is no
config) of relation ``merge``.  Its edges are grouped by recipe stage; in each
stage:

* **anchor** — the parent with role ``base`` (a base the method subtracts); none
  for methods that merge their ``base_model`` as an input (slerp, linear, …);
* **ingredients** — the parents with role ``ingredient``;
* **pair jobs** — every pair of ingredients, against the anchor, or without one
  against the pair's *nearest common ancestor*; at most ``max_pair_jobs`` per merge
  (default :data:`DEFAULT_MAX_PAIR_JOBS`, 100), the heaviest-weighted ingredients'
  pairs first (:func:`ranked_pairs`), so a 2,000-ingredient recipe never floods
  the queue;
* **edge jobs** (final stage only: earlier stages' outputs are not models) —
  child against each ingredient (one per ingredient), against the anchor, or without one against the
  nearest common ancestor of all the stage's ingredients (for two ingredients,
  the pair's base).

*Nearest common ancestor* of a set of models: among the models every member
descends from (through any edge, any relation; the members themselves
excluded), the lowest ones — those that are not an ancestor of another common
ancestor — and of those the one with the fewest hops summed over the members,
then the smallest repo id.  When there is none, or the anchor is not a Hub repo,
the pair (or edge) is recorded as a ``failed`` job with an empty base and the
reason in ``last_error``, so ``kinhub jobs`` shows it; it is removed when a
later plan of the same child finds a base.

Not planned, by design: ``slice`` parents (passthrough stacks layer ranges; no
tensor combines two slices, and the child's layers are renumbered, so neither
pairs nor child-against-slice compare like with like); MoE children (experts
are kept side by side, not combined, and the non-expert weights are the base's
copied verbatim); parents with role ``parent`` only (metadata that does not say
how a model was used); LoRA-modified inputs (``model+lora`` is not the model's
weights).

Jobs name Hub repos only: every model of a job passes
:func:`kinhub.db.ids.is_repo_id` and is not an ``unresolved`` row; references
from cards that are paths or URLs are never in a job; a parent named by the old id
of a renamed repo is planned under its current id.  Revisions are each
model's stored sha (a recipe's pinned full commit sha wins for an input), so a
model whose sha changes makes its jobs due again under new keys.  A model not
fetched yet (``pending``) defers the job: it is planned when that model is
written.  Jobs name stored revisions only: a model in ``error`` without a sha (a
crawl that failed midway) defers its jobs until it is read; a model that cannot be
read without a change on the Hub (gated, not found, private) and has no sha makes
its jobs ``failed`` records with the reason, like an unmeasurable pair.
Priority is the child's downloads.  Jobs a later plan no longer calls for (a re-parse
gave a parent another role) stay queued: their keys name exact revisions, so computing
them is still correct.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kinhub.db.aliases import RENAMED, resolve_alias
from kinhub.db.answers.evidence import source_rank
from kinhub.db.ids import is_repo_id
from kinhub.db.jobs.keys import (
    EnqueueCount,
    JobKind,
    JobStatus,
    JobTarget,
    insert_job_rows,
    job_row,
)
from kinhub.db.jobs.pairs import DEFAULT_MAX_PAIR_JOBS, ingredient_weight, ranked_pairs
from kinhub.db.jobs.revisions import (
    COMMIT_SHA,
    Deferred,
    ModelRow,
    Unreadable,
    job_revision,
    known_revision,
)
from kinhub.db.models import Edge, KinshipJob, Model
from sqlalchemy import delete
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

logger = logging.getLogger(__name__)

# The edge sources that state a recipe a job can be planned from (not card prose, a guess).
RECIPE_SOURCES = ("mergekit_config", "card_recipe")
# Hops walked up or down the genealogy (real ones have a handful; bad data may cycle).
MAX_HOPS = 64
NO_COMMON_ANCESTOR = "no common ancestor in the genealogy"
ANCHOR_NOT_HUB = "the merge's base is not a Hub repo (unresolved reference)"


class EdgeRow(NamedTuple):
    child_id: int
    parent_id: int
    role: str
    source: str
    stage: str | None
    lora: str | None
    revision: str | None
    parameters: Any = None


_MODEL_COLUMNS: tuple[Any, ...] = (
    Model.id,
    Model.repo_id,
    Model.sha,
    Model.status,
    Model.downloads,
)
_EDGE_COLUMNS: tuple[Any, ...] = (
    Edge.child_id,
    Edge.parent_id,
    Edge.role,
    Edge.source,
    Edge.stage,
    Edge.lora,
    Edge.revision,
    Edge.parameters,
)


@dataclass(frozen=True)
class Unmeasurable:
    """A pair (or edge) the rule calls for that has no usable base, and why."""

    kind: str
    model_a: str
    model_b: str
    child: str
    reason: str
    revision_a: str | None = None
    revision_b: str | None = None

    def target(self) -> JobTarget:
        return JobTarget.canonical(
            kind=self.kind,
            model_a=self.model_a,
            model_b=self.model_b,
            base="",
            revision_a=self.revision_a,
            revision_b=self.revision_b,
            child=self.child,
        )


@dataclass
class JobPlan:
    """The jobs the genealogy calls for, for the children planned."""

    children: list[str] = field(default_factory=list)
    targets: list[JobTarget] = field(default_factory=list)
    unmeasurable: list[Unmeasurable] = field(default_factory=list)


class Genealogy:
    """Read-through view of the stored edges (parents, children, ancestors) for planning.

    Loads rows on demand in batches and caches them for the life of one plan.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._models: dict[int, ModelRow] = {}
        self._parents: dict[int, set[int]] = {}
        self._ancestors: dict[int, dict[int, int]] = {}
        self._current: dict[int, int] = {}

    # -- rows ----------------------------------------------------------------------

    def models(self, ids: Iterable[int]) -> dict[int, ModelRow]:
        wanted = [i for i in set(ids) if i not in self._models]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = sa_select(*_MODEL_COLUMNS).where(col(Model.id).in_(chunk))
            for values in self.session.execute(query):
                row = ModelRow(*values)
                self._models[row.id] = row
        return self._models

    def model(self, model_id: int) -> ModelRow:
        return self.models([model_id])[model_id]

    def ids_of(self, repo_ids: Iterable[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(repo_ids))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = sa_select(*_MODEL_COLUMNS).where(col(Model.repo_id).in_(chunk))
            for values in self.session.execute(query):
                row = ModelRow(*values)
                self._models.setdefault(row.id, row)
                found[row.repo_id] = row.id
        return found

    def current(self, ids: Iterable[int]) -> dict[int, int]:
        """Each id → the id of the model it names now: a renamed repo's row (status
        ``renamed``, edges may still point at it) → the row of its current id."""
        wanted = set(ids)
        rows = self.models(wanted)
        out: dict[int, int] = {}
        for i in wanted:
            if i not in self._current:
                self._current[i] = i
                if rows[i].status == RENAMED:
                    target = resolve_alias(self.session, rows[i].repo_id)
                    self._current[i] = self.ids_of([target]).get(target, i)
            out[i] = self._current[i]
        return out

    def _load_parents(self, ids: Iterable[int]) -> None:
        wanted = [i for i in set(ids) if i not in self._parents]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for i in chunk:
                self._parents[i] = set()
            query = select(Edge.child_id, Edge.parent_id).where(col(Edge.child_id).in_(chunk))
            found = list(self.session.exec(query))
            now = self.current(parent_id for _, parent_id in found)
            for child_id, parent_id in found:
                self._parents[child_id].add(now[parent_id])

    def prefetch_ancestry(self, ids: Iterable[int]) -> None:
        """Load the parents of ``ids`` and of all their ancestors, one query per level
        and batch (planning many children then walks from memory)."""
        frontier = set(ids)
        seen = set(frontier)
        for _ in range(MAX_HOPS):
            if not frontier:
                break
            self._load_parents(frontier)
            frontier = {p for node in frontier for p in self._parents[node]} - seen
            seen |= frontier

    # -- walks -----------------------------------------------------------------------

    def ancestors(self, model_id: int) -> dict[int, int]:
        """Strict ancestors of ``model_id`` (through any edge) → fewest hops to them."""
        if model_id in self._ancestors:
            return self._ancestors[model_id]
        hops: dict[int, int] = {}
        frontier = {model_id}
        for depth in range(1, MAX_HOPS + 1):
            self._load_parents(frontier)
            nxt = {p for node in frontier for p in self._parents[node]}
            nxt = {p for p in nxt if p not in hops and p != model_id}
            if not nxt:
                break
            for p in nxt:
                hops[p] = depth
            frontier = nxt
        self._ancestors[model_id] = hops
        return hops

    def descendants(self, ids: Iterable[int]) -> set[int]:
        """``ids`` and every model that descends from one of them."""
        seen = set(ids)
        frontier = set(seen)
        for _ in range(MAX_HOPS):
            if not frontier:
                break
            found: set[int] = set()
            members = list(frontier)
            for start in range(0, len(members), 500):
                chunk = members[start : start + 500]
                query = select(Edge.child_id).where(col(Edge.parent_id).in_(chunk))
                found.update(self.session.exec(query))
            frontier = found - seen
            seen |= frontier
        return seen

    def nearest_common_ancestor(self, members: Iterable[int]) -> int | None:
        """The base a set of models is measured against when no anchor is declared
        (see the module docstring), or None when they share no Hub ancestor."""
        group = sorted(set(members))
        if not group:
            return None
        maps = [self.ancestors(m) for m in group]
        common = set(maps[0]).intersection(*maps[1:]) - set(group)
        rows = self.models(common)
        candidates = {c for c in common if _is_hub(rows[c])}
        lowest = [
            c for c in candidates if not any(c in self.ancestors(d) for d in candidates if d != c)
        ]
        if not lowest:
            return None
        return min(lowest, key=lambda c: (sum(m[c] for m in maps), rows[c].repo_id))

    def strict_ancestor(self, ancestor: int, of: int) -> bool:
        return ancestor in self.ancestors(of)

    def unexplored(self, model_id: int) -> bool:
        """True when the walk up from ``model_id`` reaches a model not fetched yet."""
        rows = self.models([model_id, *self.ancestors(model_id)])
        return any(rows[i].status == "pending" for i in [model_id, *self.ancestors(model_id)])


def _is_hub(row: ModelRow) -> bool:
    """A model a job may name: a valid Hub id that is not an unresolved reference."""
    return row.status != "unresolved" and is_repo_id(row.repo_id)


@dataclass(frozen=True)
class _Input:
    model: ModelRow
    revision: str | None


class _ChildPlanner:
    def __init__(
        self, graph: Genealogy, child: ModelRow, plan: JobPlan, *, max_pair_jobs: int
    ) -> None:
        self.graph = graph
        self.child = child
        self.plan = plan
        self.priority = child.downloads or 0
        self.pairs_left = max_pair_jobs  # per merge, over all its stages

    def _add(self, kind: JobKind, a: _Input, b: _Input, base: ModelRow) -> None:
        try:
            target = JobTarget.canonical(
                kind=kind.value,
                model_a=a.model.repo_id,
                model_b=b.model.repo_id,
                base=base.repo_id,
                revision_a=job_revision(a.model) if a.revision is None else a.revision,
                revision_b=job_revision(b.model) if b.revision is None else b.revision,
                revision_base=job_revision(base),
                child=self.child.repo_id,
                priority=self.priority,
            )
        except Deferred as deferred:
            logger.debug("%s: job deferred until %s is fetched", self.child.repo_id, deferred)
            return
        except Unreadable as unreadable:
            self._skip(kind, a, b, str(unreadable), lenient=True)
            return
        self.plan.targets.append(target)

    def _skip(
        self, kind: JobKind, a: _Input, b: _Input, reason: str, *, lenient: bool = False
    ) -> None:
        if lenient:  # a model without a revision is the reason: name the others' only
            revision_a = a.revision or known_revision(a.model, None)
            revision_b = b.revision or known_revision(b.model, None)
        else:
            try:
                revision_a = job_revision(a.model) if a.revision is None else a.revision
                revision_b = job_revision(b.model) if b.revision is None else b.revision
            except Deferred:
                return
            except Unreadable as unreadable:
                self._skip(kind, a, b, str(unreadable), lenient=True)
                return
        self.plan.unmeasurable.append(
            Unmeasurable(
                kind=kind.value,
                model_a=a.model.repo_id,
                model_b=b.model.repo_id,
                child=self.child.repo_id,
                reason=reason,
                revision_a=revision_a,
                revision_b=revision_b,
            )
        )

    def stage(self, edges: list[EdgeRow], *, final: bool) -> None:
        now = self.graph.current(e.parent_id for e in edges)
        edges = [e._replace(parent_id=now[e.parent_id]) for e in edges]
        rows = self.graph.models(e.parent_id for e in edges)
        assert self.child.id is not None
        anchors = sorted(
            (e for e in edges if e.role == "base"), key=lambda e: rows[e.parent_id].repo_id
        )
        inputs: dict[int, _Input] = {}
        weights: dict[int, float | None] = {}
        for edge in sorted(edges, key=lambda e: rows[e.parent_id].repo_id):
            parent = rows[edge.parent_id]
            if edge.role != "ingredient" or edge.lora or edge.parent_id == self.child.id:
                continue
            if _is_hub(parent) and edge.parent_id not in inputs:
                pinned = (
                    edge.revision if edge.revision and COMMIT_SHA.match(edge.revision) else None
                )
                inputs[edge.parent_id] = _Input(parent, pinned)
                weights[edge.parent_id] = ingredient_weight(edge.parameters)
        anchor: ModelRow | None = None
        anchor_reason: str | None = None
        if anchors:
            usable = [rows[e.parent_id] for e in anchors if _is_hub(rows[e.parent_id])]
            if usable:
                anchor = usable[0]
            else:
                anchor_reason = ANCHOR_NOT_HUB
        ranking = [(weights[i], inputs[i].model.repo_id) for i in inputs]
        listed = list(inputs.values())
        total = len(listed) * (len(listed) - 1) // 2
        if total > self.pairs_left:
            logger.info(
                "%s: %d ingredient pairs, %d planned (the heaviest ingredients first)",
                self.child.repo_id,
                total,
                self.pairs_left,
            )
        for i, j in ranked_pairs(ranking, self.pairs_left):
            self.pairs_left -= 1
            x, y = sorted((listed[i], listed[j]), key=lambda m: m.model.repo_id)
            self._with_base(JobKind.pair, x, y, anchor, anchor_reason, [x, y])
        if final:
            child_input = _Input(self.child, None)
            members = list(inputs.values())
            for x in members:
                self._with_base(JobKind.edge, child_input, x, anchor, anchor_reason, members)

    def _with_base(
        self,
        kind: JobKind,
        a: _Input,
        b: _Input,
        anchor: ModelRow | None,
        anchor_reason: str | None,
        members: list[_Input],
    ) -> None:
        if anchor_reason is not None:
            self._skip(kind, a, b, anchor_reason)
            return
        base = anchor
        if base is None:
            ids = [m.model.id for m in members if m.model.id is not None]
            found = self.graph.nearest_common_ancestor(ids)
            if found is None:
                self._skip(kind, a, b, NO_COMMON_ANCESTOR)
                return
            base = self.graph.model(found)
        if base.id in (a.model.id, b.model.id):
            return  # measuring a model against itself says nothing
        self._add(kind, a, b, base)


def _recipe_edges(session: Session, child_ids: list[int]) -> dict[int, list[EdgeRow]]:
    """Each child's recipe edges of its best-ranked source (``evidence.SOURCE_RANK``:
    the config over the card)."""
    by_child: dict[int, dict[str, list[EdgeRow]]] = {}
    for start in range(0, len(child_ids), 500):
        chunk = child_ids[start : start + 500]
        query = sa_select(*_EDGE_COLUMNS).where(
            col(Edge.child_id).in_(chunk),
            col(Edge.source).in_(RECIPE_SOURCES),
            col(Edge.relation) == "merge",
        )
        for values in session.execute(query):
            edge = EdgeRow(*values)
            by_child.setdefault(edge.child_id, {}).setdefault(edge.source, []).append(edge)
    out: dict[int, list[EdgeRow]] = {}
    for child_id, sources in by_child.items():
        preferred = min(sources, key=source_rank)
        out[child_id] = sources[preferred]
    return out


def plan_jobs(
    session: Session, *, children: Iterable[str], max_pair_jobs: int = DEFAULT_MAX_PAIR_JOBS
) -> JobPlan:
    """The pair and edge jobs the rule (module docstring) calls for, for the merge
    children among ``children`` (repo ids; other models contribute nothing), at most
    ``max_pair_jobs`` pair jobs per merge (:func:`ranked_pairs`).

    Pure read: nothing is written.  Deterministic order: by child, then as planned.
    """
    graph = Genealogy(session)
    ids = graph.ids_of(children)
    return _plan(graph, list(ids.values()), max_pair_jobs=max_pair_jobs)


def _plan(graph: Genealogy, child_ids: list[int], *, max_pair_jobs: int) -> JobPlan:
    plan = JobPlan()
    recipe = _recipe_edges(graph.session, child_ids)
    graph.prefetch_ancestry(recipe)
    rows = graph.models(recipe)
    for child_id in sorted(recipe, key=lambda i: rows[i].repo_id):
        child = rows[child_id]
        if not _is_hub(child) or child.status != "ok":
            continue
        plan.children.append(child.repo_id)
        stages: dict[str | None, list[EdgeRow]] = {}
        for edge in recipe[child_id]:
            stages.setdefault(edge.stage, []).append(edge)
        planner = _ChildPlanner(graph, child, plan, max_pair_jobs=max_pair_jobs)
        for name in sorted(stages, key=lambda s: (s is not None, s or "")):
            planner.stage(stages[name], final=name is None)
    return plan


def enqueue_for_models(
    session: Session, repo_ids: Iterable[str], *, max_pair_jobs: int = DEFAULT_MAX_PAIR_JOBS
) -> EnqueueCount:
    """Queue the jobs that writing ``repo_ids`` (models and their edges) calls for.

    Plans every merge child among them and among their descendants (a new sha
    or new edges of a model change the jobs of every merge it is an input,
    anchor or ancestor of), inserts the targets idempotently (a plan repeated
    queues nothing), records unmeasurable pairs as failed jobs, and removes
    such records of the planned children that no longer apply.  Runs in the
    caller's transaction (call it where the edges were written); returns the
    pending jobs inserted and those already queued.  ``max_pair_jobs``: pair jobs
    per merge at most (:func:`ranked_pairs` picks them).
    """
    graph = Genealogy(session)
    written = graph.ids_of(r for r in repo_ids if isinstance(r, str))
    if not written:
        return EnqueueCount()
    plan = _plan(graph, sorted(graph.descendants(written.values())), max_pair_jobs=max_pair_jobs)
    count = _store(session, plan)
    if count.inserted:
        logger.info("queued %d kinship jobs for %d merges", count.inserted, len(plan.children))
    return count


def _store(session: Session, plan: JobPlan) -> EnqueueCount:
    rows: dict[str, dict[str, Any]] = {}
    for target in plan.targets:
        # A pair several merges share is one job, queued at the busiest child's priority.
        row = job_row(target)
        held = rows.get(row["job_key"])
        if held is None or row["priority"] > held["priority"]:
            rows[row["job_key"]] = row
    inserted = insert_job_rows(session, list(rows.values()))
    skips: dict[str, dict[str, Any]] = {}
    for item in plan.unmeasurable:
        row = job_row(item.target(), status=JobStatus.failed, last_error=item.reason)
        skips.setdefault(str(row["job_key"]), row)
    insert_job_rows(session, list(skips.values()))
    if plan.children:
        stale = delete(KinshipJob).where(
            col(KinshipJob.child).in_(plan.children),
            col(KinshipJob.base) == "",
            col(KinshipJob.status) == JobStatus.failed.value,
        )
        if skips:
            stale = stale.where(col(KinshipJob.job_key).not_in(list(skips)))
        session.execute(stale)
    return EnqueueCount(inserted=inserted, existing=len(rows) - inserted)


def is_common_ancestor(session: Session, *, a: str, b: str, base: str) -> bool | None:
    """Whether ``base`` is an ancestor of both ``a`` and ``b`` (strictly: not one of
    them) in the stored genealogy; ``None`` when the genealogy does not know: one
    of the three is not a stored Hub model (a local folder, say), ``a`` or ``b`` was
    never read, or the walk up from them reaches a model not fetched yet.

    References may carry ``@revision``; lineage is by repo id.
    """
    names = [ref.partition("@")[0] for ref in (a, b, base)]
    if not all(is_repo_id(n) for n in names):
        return None
    graph = Genealogy(session)
    ids = graph.ids_of(names)
    if len(ids) < len(set(names)):
        return None
    now = graph.current(ids.values())  # an old name of a renamed repo is that repo
    ia, ib, iz = (now[ids[n]] for n in names)
    rows = graph.models([ia, ib])
    if any(rows[i].status == "pending" or rows[i].status == "unresolved" for i in (ia, ib)):
        return None
    if graph.strict_ancestor(iz, ia) and graph.strict_ancestor(iz, ib):
        return True
    if graph.unexplored(ia) or graph.unexplored(ib):
        return None
    return False


__all__ = [
    "ANCHOR_NOT_HUB",
    "DEFAULT_MAX_PAIR_JOBS",
    "NO_COMMON_ANCESTOR",
    "Genealogy",
    "JobPlan",
    "Unmeasurable",
    "enqueue_for_models",
    "is_common_ancestor",
    "plan_jobs",
]
