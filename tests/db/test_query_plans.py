"""The query shapes scripts/bench_queries.py showed to matter at a million models."""

from __future__ import annotations

from typing import Any

from kinhub.db.answers.lineage import lineage_sql
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Model
from sqlalchemy import event, text


def test_job_of_a_kinship_row_is_an_index_lookup(database: Database) -> None:
    """edge_kinship asks ``kinship_job.kinship_id IN (…)``: an index, not a table scan."""
    query = "SELECT kinship_id FROM kinship_job WHERE kinship_id IN (1, 2, 3) AND kind = 'edge'"
    with database.session() as session:
        if database.dialect == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {query}"))
            )
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in session.execute(text(f"EXPLAIN {query}")))
    assert "ix_kinship_job_kinship" in plan, plan


def test_bounded_lineage_does_not_count_the_models(database: Database) -> None:
    """With a depth, the walk's bound is the depth; counting a million models cost more
    than the walk on PostgreSQL."""
    with database.session() as session:
        ids = []
        for name in ("o/base", "o/ft", "o/merge"):
            row = Model(repo_id=name)
            session.add(row)
            session.flush()
            ids.append(row.id)
        for child, parent in ((ids[1], ids[0]), (ids[2], ids[1])):
            session.add(
                Edge(
                    child_id=child,
                    parent_id=parent,
                    relation="finetune",
                    role="parent",
                    source="hub_tag",
                )
            )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lower())

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as session:
            found = lineage_sql(session, "o/merge", direction="both", depth=10)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert [n.id for n in found.nodes] == ["o/merge", "o/ft", "o/base"]
    assert not [s for s in statements if "count(" in s and "from model" in s], statements


def test_edge_kinship_of_a_huge_lineage(database: Database) -> None:
    """A hub's lineage asks for the kinship of 70,000 edges: every statement stays under
    PostgreSQL's 65,535 bind parameters."""
    from kinhub.db.answers.edge_kinship import edge_kinship

    pairs = [(i, i + 1) for i in range(1, 140_000, 2)]
    with database.session() as session:
        assert edge_kinship(session, pairs) == {}
