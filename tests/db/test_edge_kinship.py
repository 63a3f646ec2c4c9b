"""One rule picks an edge's stored kinship, for lineage, the exports and show:
an edge job's result, then exact before sampled, native before compatible, newest;
rows measured against the child or the parent itself never."""

from __future__ import annotations

from datetime import UTC, datetime

from kinhub.db.answers.edge_kinship import edge_kinship
from kinhub.db.engine import Database
from kinhub.db.models import Kinship, KinshipJob, Model


def _row(key: str, base_id: int, mode: str, convention: str, day: int, cs: float) -> Kinship:
    return Kinship(
        pair_key=key,
        model_a="c/child",
        model_b="p/parent",
        base="b/base",
        model_a_id=1,
        model_b_id=2,
        base_id=base_id,
        mode=mode,
        convention=convention,
        cs=cs,
        computed_at=datetime(2026, 1, day, tzinfo=UTC),
    )


def test_one_rule_picks_the_edge_kinship(database: Database) -> None:
    with database.session() as session:
        for i, repo in enumerate(("c/child", "p/parent", "b/base"), start=1):
            session.add(Model(id=i, repo_id=repo))
        session.commit()
        rows = [
            _row("self", 2, "exact", "native", 9, 0.1),  # against the parent: ignored
            _row("old-exact", 3, "exact", "native", 1, 0.2),
            _row("new-sampled", 3, "sampled", "native", 5, 0.3),
            _row("new-compatible", 3, "exact", "modelkinship", 5, 0.4),
        ]
        session.add_all(rows)
        session.commit()
        # Exact before sampled, native before compatible, even when older.
        assert edge_kinship(session, [(1, 2)])[(1, 2)].cs == 0.2
        newer = _row("new-exact", 3, "exact", "native", 6, 0.5)
        session.add(newer)
        session.commit()
        assert edge_kinship(session, [(2, 1)])[(2, 1)].cs == 0.5  # either order
        assert edge_kinship(session, [(1, 2)])[(1, 2)].base == "b/base"
        # An edge job's result comes first, even sampled.
        sampled = rows[2]
        session.add(
            KinshipJob(
                job_key="j",
                kind="edge",
                model_a="c/child",
                model_b="p/parent",
                base="b/base",
                status="done",
                kinship_id=sampled.id,
            )
        )
        session.commit()
        assert edge_kinship(session, [(1, 2)])[(1, 2)].cs == 0.3
        assert edge_kinship(session, [(1, 2)])[(1, 2)].attrs()["kinship_mode"] == "sampled"
