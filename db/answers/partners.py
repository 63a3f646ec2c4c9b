"""Merge-partner candidates: the models that share an ancestor with a model.

:func:`partner_candidates` walks up from MODEL in one recursive statement, then
widens a walk down one hop at a time, nearest shared ancestors first, and stops as
soon as it has ``limit`` candidates, so its cost follows the size of the answer, not
of the family (a foundation has 10^5 descendants); ``kinhub partners`` and
``kinhub plan`` rank what it returns:

* walk up from MODEL (``up_depth`` steps) to its ancestors; ancestors that are
  unresolved references cannot be a shared base and start no walk;
* walk down from each ancestor (``down_depth`` steps), all ancestors together by
  *hops* (steps MODEL → ancestor → model): every model reached is a candidate, and the
  ancestor it was reached from in the fewest hops is its *shared base* (ties: the
  lower model id);
* MODEL itself, its ancestors and its descendants are not candidates (a descendant
  already contains MODEL; an ancestor is what the merge would be anchored on), and
  only crawled models (status ``ok`` or ``gated``) are;
* candidates come ordered by hops to the shared base, then evaluation average
  (highest first, none last), then repo id (code-point order); at most ``limit``.

The search is bounded; what it guarantees:

* **fan-out**: each step down from a model follows only its first ``fanout``
  children by model id (:data:`FANOUT`, 100; model ids grow in crawl order, so these
  are the earliest crawled). A popular model's other children are reached only by
  another path, or not at all;
* **nearest first**: hop levels are walked in order and the walk stops once ``limit``
  candidates are found. If the last candidate returned is H hops away, every
  candidate reachable within the fan-out in fewer than H hops is considered (and
  ranked as above); at H hops, the models on level H - 1 are expanded in order of
  (shared base id, model id), 20 at a time, until ``limit`` candidates are found,
  and those found are ranked by evaluation. When fewer than ``limit`` candidates
  exist within the fan-out, all of them are returned.

With each candidate come its license, gated status, stored architecture facts and
signature, the average of its card evaluations, and every stored kinship row of the
pair (MODEL, candidate) — the ranking happens in ``kinhub.kinship.partners``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kinhub.db.answers.guards import require_models
from kinhub.db.models import Edge, Evaluation, Kinship, Model
from kinhub.db.signatures import Signature, current_signatures
from kinhub.db.store import require_model
from sqlalchemy import and_, func, literal, or_, select, text
from sqlalchemy.sql import Select
from sqlmodel import Session, col

CANDIDATE_STATUSES = ("ok", "gated")
FANOUT = 100  # children one model contributes per step down: its first FANOUT by id
_CHUNK = 20  # models whose children one statement fetches


@dataclass(frozen=True)
class StoredKinship:
    """One stored measurement of the pair (MODEL, candidate)."""

    kinship_id: int
    base_id: int | None
    base: str
    mode: str
    cs: float | None
    pcc: float | None
    ed: float | None
    intervals: dict[str, Any]
    sample_fraction: float | None
    computed_at: datetime

    def value(self, metric: str) -> float | None:
        return {"cs": self.cs, "pcc": self.pcc, "ed": self.ed}.get(metric)


@dataclass(frozen=True)
class ModelFacts:
    """What the ranking needs to know about one model."""

    id: int
    repo_id: str
    sha: str | None
    status: str
    license: str | None
    gated: str | None
    model_type: str | None
    architectures: list[str]
    hidden_size: int | None
    num_layers: int | None
    vocab_size: int | None
    eval_average: float | None = None
    eval_count: int = 0
    signature: Signature | None = None


@dataclass(frozen=True)
class Candidate:
    """A model sharing an ancestor with MODEL, with the nearest such ancestor."""

    facts: ModelFacts
    shared_base_id: int
    shared_base: str
    hops: int  # steps MODEL → shared base → candidate
    kinship: list[StoredKinship] = field(default_factory=list)


@dataclass(frozen=True)
class PartnerQuery:
    model: ModelFacts
    ancestors: dict[int, int]  # ancestor id -> fewest steps up from MODEL
    candidates: list[Candidate]


def _walk_up(root_id: int, depth: int) -> Select[Any]:
    walk = select(literal(root_id).label("id"), literal(0).label("up")).cte(
        "up_walk", recursive=True
    )
    step = (
        select(col(Edge.parent_id).label("id"), (walk.c.up + 1).label("up"))
        .join(walk, col(Edge.child_id) == walk.c.id)
        .where(walk.c.up < depth)
    )
    walk = walk.union(step)
    return select(walk.c.id, func.min(walk.c.up).label("up")).group_by(walk.c.id)


def _walk_down_ids(root_id: int, depth: int) -> Select[Any]:
    walk = select(literal(root_id).label("id"), literal(0).label("down")).cte(
        "root_down", recursive=True
    )
    step = (
        select(col(Edge.child_id).label("id"), (walk.c.down + 1).label("down"))
        .join(walk, col(Edge.parent_id) == walk.c.id)
        .where(walk.c.down < depth)
    )
    walk = walk.union(step)
    return select(walk.c.id).distinct()


def _first_children(
    session: Session, parents: list[int], fanout: int
) -> list[tuple[int, int, str, str]]:
    """(parent, child, child's status, child's repo id) for each parent's first
    ``fanout`` distinct children by model id: one index range scan per parent, each
    stopping after ``fanout`` rows."""
    edge, model = Edge.__tablename__, Model.__tablename__
    branches = " UNION ALL ".join(
        f"SELECT {int(p)} AS parent, c FROM (SELECT DISTINCT child_id AS c FROM {edge}"
        f" WHERE parent_id = {int(p)} ORDER BY child_id LIMIT {int(fanout)}) AS s{i}"
        for i, p in enumerate(parents)
    )
    statement = (
        f"SELECT k.parent, k.c, m.status, m.repo_id FROM ({branches}) AS k"
        f" JOIN {model} AS m ON m.id = k.c"
    )
    return [(int(p), int(c), st, rid) for p, c, st, rid in session.execute(text(statement))]


def _rows(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    """id -> (status, repo id) of the given models."""
    out: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        query = select(col(Model.id), col(Model.status), col(Model.repo_id)).where(
            col(Model.id).in_(ids[start : start + 500])
        )
        out.update({mid: (status, rid) for mid, status, rid in session.execute(query)})
    return out


def _averages(session: Session, ids: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(col(Evaluation.model_id), func.avg(col(Evaluation.value)))
            .where(
                col(Evaluation.model_id).in_(ids[start : start + 500]),
                col(Evaluation.value).is_not(None),
            )
            .group_by(col(Evaluation.model_id))
        )
        out.update({mid: float(avg) for mid, avg in session.execute(query) if avg is not None})
    return out


def _search(
    session: Session,
    root_id: int,
    ancestors: dict[int, int],
    *,
    up_depth: int,
    down_depth: int,
    limit: int,
    fanout: int,
) -> list[tuple[int, int, int]]:
    """The bounded walk down (see the module docstring): (candidate, shared base, hops),
    ranked, at most ``limit``."""
    own = {node for (node,) in session.execute(_walk_down_ids(root_id, down_depth + up_depth))}
    info = _rows(session, sorted({*ancestors, root_id}))
    # A level is a number of hops from MODEL; each entry of a level may still walk down
    # ``budget`` steps from the ancestor ``anc`` it was reached from.
    levels: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)  # node -> (budget, anc)
    label: dict[int, tuple[int, int]] = {}  # node -> nearest (hops, shared base)
    reach: dict[int, int] = {}  # node -> furthest level a walk through it may get to
    for anc, up in ancestors.items():
        if info.get(anc, ("unresolved", ""))[0] == "unresolved" or down_depth < 1:
            continue
        levels[up][anc] = (down_depth, anc)
        reach[anc] = up + down_depth
    found: set[int] = set()
    excluded = own | set(ancestors) | {root_id}

    for hops in range(min(levels, default=1), up_depth + down_depth):
        frontier = sorted(levels.pop(hops, {}).items(), key=lambda e: (e[1][1], e[0]))
        frontier = [e for e in frontier if e[0] not in own]
        for start in range(0, len(frontier), _CHUNK):
            if len(found) >= limit:
                break
            chunk = dict(frontier[start : start + _CHUNK])
            for parent, child, status, name in _first_children(session, sorted(chunk), fanout):
                budget, anc = chunk[parent]
                here = (hops + 1, anc)
                if child not in label:
                    info[child] = (status, name)
                    if child not in excluded and status in CANDIDATE_STATUSES:
                        found.add(child)
                if child not in label or here < label[child]:
                    label[child] = here
                if budget < 2:
                    continue
                # Walk on from it with the most steps left (ties: the lower base).
                entry = levels[hops + 1].get(child)
                if entry is not None:
                    if (budget - 1, -anc) > (entry[0], -entry[1]):
                        levels[hops + 1][child] = (budget - 1, anc)
                        reach[child] = max(reach[child], hops + budget)
                elif hops + budget > reach.get(child, -1):
                    reach[child] = hops + budget
                    levels[hops + 1][child] = (budget - 1, anc)
        if len(found) >= limit:
            break
    averages = _averages(session, sorted(found))

    def rank(node: int) -> tuple[int, bool, float, str]:
        average = averages.get(node)
        return (label[node][0], average is None, -(average or 0.0), info[node][1])

    ranked = sorted(found, key=rank)[:limit]
    return [(node, label[node][1], label[node][0]) for node in ranked]


def partner_candidates(
    session: Session,
    *,
    repo_id: str,
    up_depth: int = 4,
    down_depth: int = 4,
    limit: int = 500,
    fanout: int = FANOUT,
) -> PartnerQuery:
    """Candidates for merging with ``repo_id`` (see the module docstring for what the
    bounded search guarantees: ``limit`` and ``fanout`` bound its cost).

    Raises:
        EmptyDatabaseError: the database holds no models.
        ModelNotFoundError: ``repo_id`` is not in it.
    """
    require_models(session)
    root = require_model(session, repo_id)
    assert root.id is not None
    ancestors = {
        node: up for node, up in session.execute(_walk_up(root.id, up_depth)) if node != root.id
    }
    found: list[tuple[int, int, int]] = []  # (candidate, shared base, hops), ranked
    if ancestors and limit > 0:
        found = _search(
            session,
            root.id,
            ancestors,
            up_depth=up_depth,
            down_depth=down_depth,
            limit=limit,
            fanout=fanout,
        )
    facts = _facts(session, [root.id, *(n for n, _a, _h in found), *(a for _n, a, _h in found)])
    model = facts[root.id]
    candidates = [
        Candidate(
            facts=facts[node],
            shared_base_id=anc,
            shared_base=facts[anc].repo_id,
            hops=hops,
        )
        for node, anc, hops in found
    ]
    stored = stored_kinship(session, root.id, [c.facts.id for c in candidates])
    candidates = [
        Candidate(
            facts=c.facts,
            shared_base_id=c.shared_base_id,
            shared_base=c.shared_base,
            hops=c.hops,
            kinship=stored.get(c.facts.id, []),
        )
        for c in candidates
    ]
    return PartnerQuery(model=model, ancestors=ancestors, candidates=candidates)


def model_facts(session: Session, repo_ids: list[str]) -> dict[str, ModelFacts]:
    """:class:`ModelFacts` of the named models (absent names are left out)."""
    ids = {
        rid: mid
        for mid, rid in session.execute(
            select(col(Model.id), col(Model.repo_id)).where(col(Model.repo_id).in_(repo_ids))
        )
    }
    facts = _facts(session, list(ids.values()))
    return {rid: facts[mid] for rid, mid in ids.items()}


_FACT_COLUMNS = (
    "id",
    "repo_id",
    "sha",
    "status",
    "license",
    "gated",
    "model_type",
    "architectures",
    "hidden_size",
    "num_layers",
    "vocab_size",
)


def _facts(session: Session, ids: list[int]) -> dict[int, ModelFacts]:
    wanted = sorted(set(ids))
    rows: dict[int, Any] = {}
    evals: dict[int, tuple[float | None, int]] = {}
    columns = [col(getattr(Model, name)) for name in _FACT_COLUMNS]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        # The columns, not the ORM entity: building 500 full Model objects costs more
        # than the query.
        for row in session.execute(select(*columns).where(col(Model.id).in_(chunk))):
            rows[row.id] = row
        for model_id, avg, n in session.execute(
            select(
                col(Evaluation.model_id),
                func.avg(col(Evaluation.value)),
                func.count(col(Evaluation.value)),
            )
            .where(col(Evaluation.model_id).in_(chunk), col(Evaluation.value).is_not(None))
            .group_by(col(Evaluation.model_id))
        ):
            evals[model_id] = (float(avg) if avg is not None else None, int(n))
    signatures = current_signatures(session, rows)
    return {
        model_id: ModelFacts(
            id=model_id,
            repo_id=row.repo_id,
            sha=row.sha,
            status=row.status,
            license=row.license,
            gated=row.gated,
            model_type=row.model_type,
            architectures=list(row.architectures or []),
            hidden_size=row.hidden_size,
            num_layers=row.num_layers,
            vocab_size=row.vocab_size,
            eval_average=evals.get(model_id, (None, 0))[0],
            eval_count=evals.get(model_id, (None, 0))[1],
            signature=signatures.get(model_id),
        )
        for model_id, row in rows.items()
    }


def stored_kinship(
    session: Session, root_id: int, ids: list[int]
) -> dict[int, list[StoredKinship]]:
    """Every stored measurement of (``root_id``, other) for each other id in ``ids``,
    by other id (rows measured against one of the two models themselves left out)."""
    out: dict[int, list[StoredKinship]] = defaultdict(list)
    names: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Kinship).where(
            or_(
                and_(col(Kinship.model_a_id) == root_id, col(Kinship.model_b_id).in_(chunk)),
                and_(col(Kinship.model_b_id) == root_id, col(Kinship.model_a_id).in_(chunk)),
            )
        )
        for row in session.scalars(query):
            other = row.model_b_id if row.model_a_id == root_id else row.model_a_id
            if other is None or row.id is None or row.base_id in (root_id, other):
                continue
            out[other].append(
                StoredKinship(
                    kinship_id=row.id,
                    base_id=row.base_id,
                    base=row.base,
                    mode=row.mode,
                    cs=row.cs,
                    pcc=row.pcc,
                    ed=row.ed,
                    intervals=dict(row.intervals or {}),
                    sample_fraction=row.sample_fraction,
                    computed_at=row.computed_at,
                )
            )
    base_ids = sorted({k.base_id for rows in out.values() for k in rows if k.base_id})
    if base_ids:
        named = select(col(Model.id), col(Model.repo_id)).where(col(Model.id).in_(base_ids))
        names = {model_id: name for model_id, name in session.execute(named)}
    return {
        other: [
            StoredKinship(**{**k.__dict__, "base": names.get(k.base_id or -1, k.base)})
            for k in rows
        ]
        for other, rows in out.items()
    }


def merge_children(
    session: Session, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], list[str]]:
    """For each pair of model ids, the repo ids of the models recorded as merges of both
    (a merge edge to each, any role): what a planned merge became once made, published
    and crawled."""
    ids = sorted({i for pair in pairs for i in pair})
    parents: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(col(Edge.child_id), col(Edge.parent_id)).where(
            col(Edge.parent_id).in_(chunk), col(Edge.relation) == "merge"
        )
        for child, parent in session.execute(query):
            parents[child].add(parent)
    found = {
        pair: [c for c, ps in parents.items() if pair[0] in ps and pair[1] in ps] for pair in pairs
    }
    wanted = sorted({c for children in found.values() for c in children})
    names: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        named = select(col(Model.id), col(Model.repo_id)).where(
            col(Model.id).in_(wanted[start : start + 500])
        )
        names.update({model_id: name for model_id, name in session.execute(named)})
    return {pair: sorted(names[c] for c in children) for pair, children in found.items()}


def facts_by_id(session: Session, ids: list[int]) -> dict[int, ModelFacts]:
    """:class:`ModelFacts` of the models with these ids (absent ids are left out)."""
    return _facts(session, ids)


def shared_base(session: Session, a: int, b: int) -> int | None:
    """The nearest common Hub ancestor of two models (what their kinship is measured
    against when no merge anchor says otherwise), or None."""
    from kinhub.db.jobs.plan import Genealogy

    return Genealogy(session).nearest_common_ancestor([a, b])


__all__ = [
    "CANDIDATE_STATUSES",
    "Candidate",
    "ModelFacts",
    "PartnerQuery",
    "StoredKinship",
    "facts_by_id",
    "merge_children",
    "model_facts",
    "partner_candidates",
    "shared_base",
    "stored_kinship",
]
