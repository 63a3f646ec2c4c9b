"""The bounds of ``partner_candidates`` (db/answers/partners.py docstring), on SQLite and
PostgreSQL: a model contributes its first ``fanout`` children by id per step down,
and the walk stops at the hop level where ``limit`` candidates are found."""

from __future__ import annotations

import pytest
from kinhub.db.answers.partners import partner_candidates
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Evaluation, Model


@pytest.fixture
def family(database: Database) -> dict[str, int]:
    """base → c1..c6 (created in that order), then base → mine → mine-child;
    c1 → g1, c4 → g4, c2 → mine-child (a descendant of mine reached another way);
    c3 has an evaluation."""
    names = ["base", "c1", "c2", "c3", "c4", "c5", "c6", "mine", "g1", "g4", "mine-child"]
    edges = [
        *((f"c{i}", "base") for i in range(1, 7)),
        ("mine", "base"),
        ("g1", "c1"),
        ("g4", "c4"),
        ("mine-child", "mine"),
        ("mine-child", "c2"),
    ]
    with database.session() as session:
        rows = {name: Model(repo_id=f"fam/{name}") for name in names}
        session.add_all(rows.values())
        session.flush()
        ids = {name: row.id for name, row in rows.items()}
        for child, parent in edges:
            relation = "merge" if child == "mine-child" else "finetune"
            session.add(
                Edge(
                    child_id=ids[child],
                    parent_id=ids[parent],
                    relation=relation,
                    role="ingredient" if relation == "merge" else "parent",
                    source="card",
                )
            )
        session.add(Evaluation(model_id=ids["c3"], task="t", dataset="d", metric="acc", value=0.7))
        session.commit()
    return {name: i for name, i in ids.items() if i is not None}


def _found(database: Database, **kw: int) -> list[tuple[str, int]]:
    with database.session() as session:
        query = partner_candidates(session, repo_id="fam/mine", **kw)
    assert all(c.shared_base == "fam/base" for c in query.candidates)
    return [(c.facts.repo_id.removeprefix("fam/"), c.hops) for c in query.candidates]


def test_unbounded_family_is_complete(database: Database, family: dict[str, int]) -> None:
    assert _found(database) == [
        ("c3", 2),
        ("c1", 2),
        ("c2", 2),
        ("c4", 2),
        ("c5", 2),
        ("c6", 2),
        ("g1", 3),
        ("g4", 3),
    ]


def test_a_model_contributes_its_first_fanout_children_by_id(
    database: Database, family: dict[str, int]
) -> None:
    # base's first three children by id are c1, c2, c3: c4..c6 (and g4 below c4) are
    # not reached; mine (a later child) would not have been either.
    assert _found(database, fanout=3) == [("c3", 2), ("c1", 2), ("c2", 2), ("g1", 3)]


def test_walk_stops_at_the_level_reaching_limit(database: Database, family: dict[str, int]) -> None:
    # Six candidates two hops away: the limit is reached there, nothing farther is
    # looked at, and the level is ranked by evaluation then repo id.
    assert _found(database, limit=2) == [("c3", 2), ("c1", 2)]
    assert _found(database, limit=6) == [(f"c{i}", 2) for i in (3, 1, 2, 4, 5, 6)]
    assert _found(database, limit=7) == [*((f"c{i}", 2) for i in (3, 1, 2, 4, 5, 6)), ("g1", 3)]
