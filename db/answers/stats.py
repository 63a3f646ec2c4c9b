"""Database-wide figures (``kinhub stats``): what the genealogy holds and how fresh it is.

Counts by relation and merge method, the most-merged models, the distribution of each
kinship metric, crawl freshness (last runs, high-water marks) and the kinship job
backlog.  Everything is aggregated in SQL, so the cost does not grow with card texts
and the memory not with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinhub.db.answers.guards import require_models
from kinhub.db.models import (
    KINSHIP_METRIC_COLUMNS,
    CrawlRun,
    CrawlState,
    Edge,
    Kinship,
    KinshipJob,
    Model,
    Recipe,
)
from kinhub.db.timeutil import to_utc
from kinhub.db.weight_checks import verdict_counts
from sqlalchemy import distinct, func, select
from sqlmodel import Session, col

# Every metric with its own column (cs, pcc, ed, and the registry's other scalars).
KINSHIP_METRICS: tuple[str, ...] = KINSHIP_METRIC_COLUMNS
TOP_BASES = 10


@dataclass(frozen=True)
class Stats:
    models: dict[str, int]
    edges: dict[str, int]
    methods: dict[str, int]
    most_merged: list[dict[str, Any]]
    kinship: dict[str, dict[str, Any]]
    crawl: dict[str, Any]
    jobs: list[dict[str, Any]]
    weight_checks: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "edges": self.edges,
            "methods": self.methods,
            "most_merged": self.most_merged,
            "kinship": self.kinship,
            "crawl": self.crawl,
            "jobs": self.jobs,
            "weight_checks": self.weight_checks,
        }


def _model_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(col(Model.status), func.count()).group_by(col(Model.status))
    ).all()
    counts = {status: n for status, n in sorted(rows)}
    return {"total": sum(counts.values()), **counts}


def _edge_counts(session: Session) -> dict[str, int]:
    # One edge per (child, parent, relation), however many sources back it.
    pairs = (
        select(col(Edge.child_id), col(Edge.parent_id), col(Edge.relation)).distinct().subquery()
    )
    rows = session.execute(select(pairs.c.relation, func.count()).group_by(pairs.c.relation)).all()
    return {relation: n for relation, n in sorted(rows)}


def _method_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(col(Recipe.merge_method), func.count(distinct(col(Recipe.model_id))))
        .where(col(Recipe.merge_method).is_not(None))
        .group_by(col(Recipe.merge_method))
    ).all()
    return {method: n for method, n in sorted(rows, key=lambda r: (-r[1], r[0]))}


def _most_merged(session: Session, limit: int) -> list[dict[str, Any]]:
    merges = func.count(distinct(col(Edge.child_id)))
    rows = session.execute(
        select(col(Model.repo_id), merges)
        .join(Model, col(Model.id) == col(Edge.parent_id))
        .where(col(Edge.relation).in_(("merge", "moe")))
        .group_by(col(Model.repo_id))
        .order_by(merges.desc(), col(Model.repo_id))
        .limit(limit)
    ).all()
    as_base = dict(
        session.execute(
            select(col(Model.repo_id), func.count(distinct(col(Edge.child_id))))
            .join(Model, col(Model.id) == col(Edge.parent_id))
            .where(col(Edge.role) == "base", col(Model.repo_id).in_([r[0] for r in rows]))
            .group_by(col(Model.repo_id))
        ).all()
    )
    return [{"id": name, "merges": n, "as_base": as_base.get(name, 0)} for name, n in rows]


def _distribution(session: Session, metric: str) -> dict[str, Any]:
    column = getattr(Kinship, metric)
    count, low, high, mean = session.execute(
        select(func.count(column), func.min(column), func.max(column), func.avg(column))
    ).one()
    out: dict[str, Any] = {"count": count, "min": low, "max": high}
    out["mean"] = float(mean) if mean is not None else None
    # Quartiles by offset on the ordered column: one ordinary query each on both databases.
    for name, q in (("p25", 0.25), ("median", 0.5), ("p75", 0.75)):
        out[name] = (
            session.execute(
                select(column)
                .where(column.is_not(None))
                .order_by(column)
                .offset(int(q * (count - 1)))
                .limit(1)
            ).scalar_one()
            if count
            else None
        )
    return out


def _crawl(session: Session) -> dict[str, Any]:
    def run(row: CrawlRun | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {
            "kind": row.kind,
            "scope": row.scope,
            "status": row.status,
            "started_at": to_utc(row.started_at),
            "finished_at": to_utc(row.finished_at),
            "error": row.error,
        }

    newest = select(CrawlRun).order_by(col(CrawlRun.started_at).desc(), col(CrawlRun.id).desc())
    last = session.scalars(newest.limit(1)).first()
    last_ok = session.scalars(newest.where(col(CrawlRun.status) == "ok").limit(1)).first()
    checkpoints = [
        {"key": key, "high_water": to_utc(mark), "updated_at": to_utc(updated)}
        for key, mark, updated in session.execute(
            select(col(CrawlState.key), col(CrawlState.high_water), col(CrawlState.updated_at))
            .where(col(CrawlState.high_water).is_not(None))
            .order_by(col(CrawlState.key))
        )
    ]
    marks = [c["high_water"] for c in checkpoints if c["high_water"] is not None]
    newest_model = session.execute(select(func.max(col(Model.updated_at)))).scalar_one()
    return {
        "last_run": run(last),
        "last_ok_run": run(last_ok),
        "high_water": max(marks, default=None),
        "checkpoints": checkpoints,
        "last_model_update": to_utc(newest_model),
    }


def _jobs(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(col(KinshipJob.kind), col(KinshipJob.status), func.count())
        .group_by(col(KinshipJob.kind), col(KinshipJob.status))
        .order_by(col(KinshipJob.kind), col(KinshipJob.status))
    ).all()
    return [{"kind": kind, "status": status, "count": n} for kind, status, n in rows]


def database_stats(session: Session) -> Stats:
    """Figures over the whole database.

    Raises:
        EmptyDatabaseError: the database holds no models.
    """
    require_models(session)
    return Stats(
        models=_model_counts(session),
        edges=_edge_counts(session),
        methods=_method_counts(session),
        most_merged=_most_merged(session, TOP_BASES),
        kinship={metric: _distribution(session, metric) for metric in KINSHIP_METRICS},
        crawl=_crawl(session),
        jobs=_jobs(session),
        weight_checks=verdict_counts(session),
    )
