"""Stored kinship of merge edges: how much of each parent is in the child.

The worker stores an *edge job*'s result as a ``kinship`` row of (child, parent)
against the merge's base (see :mod:`kinhub.db.jobs.plan`); ``kinhub kinship
CHILD PARENT --base Z`` run by hand stores the same kind of row.  For a lineage
edge, :func:`edge_kinship` picks one stored row of that pair, by one rule that
``kinhub lineage``, the exports and ``kinhub show`` share: an edge job's result
first, then exact before sampled, native before ModelKinship-compatible, then
the newest; rows measured against the child or the parent itself are ignored
(one task vector is zero there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kinhub.db.core_tables import kinship, kinship_job, model
from sqlalchemy import select

if TYPE_CHECKING:
    from kinhub.db.core_tables import Reader
    from sqlalchemy.engine import Row

Pair = tuple[int, int]  # (child model id, parent model id)
# ``kinhub.db.jobs.keys.JobKind.edge`` and ``JobStatus.done`` (that module imports the
# ORM, which ``kinhub lineage`` must not pay for at start-up; a test checks these).
EDGE_JOB = "edge"
DONE = "done"


@dataclass(frozen=True)
class EdgeKinship:
    """The metrics of one stored measurement of a (child, parent) edge."""

    cs: float | None
    pcc: float | None
    ed: float | None
    base: str
    mode: str
    kinship_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"cs": self.cs, "pcc": self.pcc, "ed": self.ed, "base": self.base, "mode": self.mode}

    def attrs(self) -> dict[str, Any]:
        """The export's flat edge attributes (``kinship_cs`` …)."""
        return {f"kinship_{key}": value for key, value in self.to_json().items()}


def edge_kinship(session: Reader, pairs: Iterable[Pair]) -> dict[Pair, EdgeKinship]:
    """The stored kinship of each (child id, parent id) pair that has one.

    ``session`` is a Core connection or an ORM session (Core queries only)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    ids = sorted({i for pair in wanted for i in pair})
    k = kinship.c
    rows: list[Row[Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # model_b is filtered here, not in SQL: "IN (every id)" passed PostgreSQL's
        # 65,535-parameter limit on a big lineage (a hub's 117,000 models).
        rows.extend(session.execute(select(kinship).where(k.model_a_id.in_(chunk))))
    rows = [r for r in rows if _pair(r, wanted) is not None]
    if not rows:
        return {}
    from_jobs: set[int] = set()
    row_ids = [r.id for r in rows if r.id is not None]
    j = kinship_job.c
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start : start + 500]
        from_jobs.update(
            i
            for (i,) in session.execute(
                select(j.kinship_id).where(
                    j.kinship_id.in_(chunk), j.kind == EDGE_JOB, j.status == DONE
                )
            )
            if i is not None
        )
    best: dict[Pair, Row[Any]] = {}
    for row in rows:
        pair = _pair(row, wanted)
        assert pair is not None
        held = best.get(pair)
        if held is None or _rank(row, from_jobs) > _rank(held, from_jobs):
            best[pair] = row
    base_ids = {r.base_id for r in best.values() if r.base_id is not None}
    query = select(model.c.id, model.c.repo_id).where(model.c.id.in_(sorted(base_ids)))
    names = {model_id: repo_id for model_id, repo_id in session.execute(query)}
    return {
        pair: EdgeKinship(
            cs=row.cs,
            pcc=row.pcc,
            ed=row.ed,
            base=names.get(row.base_id, row.base) if row.base_id is not None else row.base,
            mode=row.mode,
            kinship_id=row.id,
        )
        for pair, row in best.items()
    }


def _pair(row: Row[Any], wanted: set[Pair]) -> Pair | None:
    a, b = row.model_a_id, row.model_b_id
    if a is None or b is None or row.base_id in (a, b):
        return None
    if (a, b) in wanted:
        return (a, b)
    if (b, a) in wanted:
        return (b, a)
    return None


def _rank(row: Row[Any], from_jobs: set[int]) -> tuple[bool, bool, bool, float, int]:
    """Higher is better: an edge job's result, exact, native, newest (then the later row)."""
    stamp = row.computed_at.timestamp() if row.computed_at is not None else 0.0
    return (
        row.id in from_jobs,
        row.mode == "exact",
        row.convention == "native",
        stamp,
        row.id or 0,
    )


__all__ = ["EdgeKinship", "edge_kinship"]
