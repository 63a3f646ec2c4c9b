"""Models stored by the version-4 parser are re-read into the issue-19 results by
``kinhub db reparse`` (:func:`crawler.reparse.reparse`), idempotently."""

from __future__ import annotations

from pathlib import Path

from kinhub.crawler import version
from kinhub.crawler.facts import model_facts
from kinhub.crawler.reparse import reparse
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Model
from kinhub.db.records import EdgeRecord, ModelRecord, SourceTexts
from kinhub.db.store import upsert_model
from sqlmodel import select

DEV = Path(__file__).resolve().parent.parent / "fixtures" / "dev" / "cards"

# What parser version 4 stored for three development cards: a DPO fine-tune read
# as the merge its card quotes, a MoE of one model read as a self-merge, a Korean
# prose merge read as a fine-tune (its ids glued to Korean particles were missed).
OLD: dict[str, tuple[str, list[EdgeRecord]]] = {
    "marsh/Heron-7B-slerp-DPO": (
        "ftq_lazy_dpo.md",
        [
            EdgeRecord("marsh/Egret-7B", "merge", "ingredient", "card_recipe"),
            EdgeRecord("lake/Crane-7B", "merge", "ingredient", "card_recipe"),
            EdgeRecord("marsh/Heron-7B-slerp", "merge", "parent", "card_metadata"),
        ],
    ),
    "fz-lab/Kestrel-4x7B": (
        "moe_repeat_all_base.md",
        [
            EdgeRecord("fz-lab/Kestrel-7B", "merge", "expert", "card_recipe"),
            EdgeRecord("fz-lab/Kestrel-7B", "merge", "parent", "card_metadata"),
        ],
    ),
    "solbit/Solbit-Merge-10.7B": (
        "pmu_korean_merge_particles.md",
        [EdgeRecord("solbit/Solbit-10.7B", "finetune", "parent", "card_metadata")],
    ),
}

NEW = {
    "marsh/Heron-7B-slerp-DPO": {("marsh/Heron-7B-slerp", "finetune", "parent", "card_metadata")},
    "fz-lab/Kestrel-4x7B": {
        ("fz-lab/Kestrel-7B", "moe", "expert", "card_recipe"),
        ("fz-lab/Kestrel-7B", "moe", "parent", "card_metadata"),
    },
    "solbit/Solbit-Merge-10.7B": {
        ("solbit/Solbit-10.7B", "merge", "ingredient", "card_prose"),
        ("dalbit/Dalbit-Instruct-10.7B", "merge", "ingredient", "card_prose"),
        ("solbit/Solbit-10.7B", "merge", "parent", "card_metadata"),
    },
}


def _edges(database: Database) -> dict[str, set[tuple[str, str, str, str]]]:
    with database.session() as session:
        name = {m.id: m.repo_id for m in session.exec(select(Model))}
        out: dict[str, set[tuple[str, str, str, str]]] = {}
        for e in session.exec(select(Edge)):
            out.setdefault(name[e.child_id], set()).add(
                (name[e.parent_id], e.relation, e.role, e.source)
            )
        return out


def test_models_read_by_parser_version_4_are_reparsed_into_the_new_results(
    database: Database,
) -> None:
    assert version.PARSER_VERSION == 5
    with database.session() as session:
        for repo_id, (card, edges) in OLD.items():
            text = (DEV / card).read_text(encoding="utf-8")
            upsert_model(
                session,
                ModelRecord(
                    repo_id=repo_id,
                    sha="a" * 40,
                    edges=edges,
                    texts=SourceTexts(card_text=text),
                    parser_version=4,
                ),
            )
        session.commit()
    assert {k: v for k, v in _edges(database).items() if k in OLD} == {
        repo_id: {(e.parent, e.relation, e.role, e.source) for e in edges}
        for repo_id, (_, edges) in OLD.items()
    }

    report = reparse(database)
    assert (report.examined, report.changed) == (3, 3)
    stored = _edges(database)
    assert {k: v for k, v in stored.items() if k in OLD} == NEW
    for repo_id, (card, _) in OLD.items():  # exactly what the current parser reads
        facts = model_facts(card_text=(DEV / card).read_text(encoding="utf-8"), config_text=None)
        assert stored[repo_id] == {(e.parent, e.relation, e.role, e.source) for e in facts.edges}

    again = reparse(database)
    assert (again.examined, again.changed) == (0, 0)
