"""The networkx walk and the recursive SQL walk agree, cycles included."""

from __future__ import annotations

import random

import pytest
from kinhub.db.answers.lineage import Lineage, genealogy_graph, lineage_networkx, lineage_sql
from kinhub.db.engine import Database
from kinhub.db.errors import ModelNotFoundError
from kinhub.db.records import EdgeRecord, ModelRecord, RecipeRecord
from kinhub.db.store import upsert_model


def five_generations(seed: int = 7) -> list[ModelRecord]:
    """Foundations → fine-tunes → merges → MoE → merges of merges, plus bad-data cycles."""
    rng = random.Random(seed)
    records: list[ModelRecord] = []
    generations: list[list[str]] = [["found/a", "found/b"]]
    for name in generations[0]:
        records.append(ModelRecord(repo_id=name, sha=rng.randbytes(20).hex()))
    for gen in range(1, 5):
        current = []
        for i in range(6):
            repo = f"gen{gen}/m{i}"
            pool = [m for g in generations for m in g]
            kind = rng.choice(["finetune", "merge", "merge", "moe"] if gen > 1 else ["finetune"])
            if kind == "finetune":
                parent = rng.choice(generations[-1])
                edges = [EdgeRecord(parent, "finetune", "parent", "card_metadata")]
                recipes = []
            elif kind == "merge":
                base, *ingredients = rng.sample(pool, 3)
                edges = [EdgeRecord(base, "merge", "base", "mergekit_config")]
                edges += [
                    EdgeRecord(p, "merge", "ingredient", "mergekit_config") for p in ingredients
                ]
                edges += [EdgeRecord(p, "merge", "parent", "card_metadata") for p in ingredients]
                recipes = [RecipeRecord("mergekit_config", "dare_ties", base)]
            else:
                base, *experts = rng.sample(pool, 3)
                edges = [EdgeRecord(base, "moe", "base", "mergekit_config")]
                edges += [EdgeRecord(p, "moe", "expert", "mergekit_config") for p in experts]
                edges.append(
                    EdgeRecord(
                        "./local/expert", "moe", "expert", "mergekit_config", parent_resolved=False
                    )
                )
                recipes = [RecipeRecord("mergekit_config", "moe", base)]
            records.append(
                ModelRecord(repo_id=repo, sha=rng.randbytes(20).hex(), edges=edges, recipes=recipes)
            )
            current.append(repo)
        generations.append(current)
    # Bad data: a foundation claims to descend from a 4th-generation merge, and a self-loop.
    records[0] = ModelRecord(
        repo_id="found/a",
        sha=records[0].sha,
        edges=[EdgeRecord("gen4/m0", "finetune", "parent", "card_metadata")],
    )
    records.append(
        ModelRecord(
            repo_id="loop/self",
            sha="f" * 40,
            edges=[EdgeRecord("loop/self", "merge", "parent", "hub_tag")],
        )
    )
    return records


@pytest.fixture
def genealogy(database: Database) -> Database:
    with database.session() as s:
        for record in five_generations():
            upsert_model(s, record)
    return database


def _key(lineage: Lineage) -> tuple[object, ...]:
    data = lineage.to_json()
    return (
        data["root"],
        sorted((n["id"], n["depth"], n["direction"], n["unresolved"]) for n in data["nodes"]),
        sorted(
            (e["child"], e["parent"], e["direction"], e["relation"], e["role"], tuple(e["sources"]))
            for e in data["edges"]
        ),
    )


def test_walks_agree_everywhere(genealogy: Database) -> None:
    with genealogy.session() as s:
        graph = genealogy_graph(s)
        roots = [r.repo_id for r in five_generations()] + ["./local/expert"]
        compared = 0
        for root in roots:
            for direction in ("up", "down", "both"):
                for depth in (None, 1, 2, 3):
                    sql = lineage_sql(s, root, direction=direction, depth=depth)  # type: ignore[arg-type]
                    nxw = lineage_networkx(s, root, direction=direction, depth=depth, graph=graph)  # type: ignore[arg-type]
                    assert _key(sql) == _key(nxw), (root, direction, depth)
                    compared += 1
    assert compared == len(roots) * 12


def test_cycle_terminates_and_reaches_everything(genealogy: Database) -> None:
    with genealogy.session() as s:
        up = lineage_sql(s, "gen4/m0", direction="up")
        ids = {n.id for n in up.nodes}
        # The injected cycle makes gen4/m0 its own ancestor through found/a.
        assert "found/a" in ids and "gen4/m0" in ids
        loop = lineage_sql(s, "loop/self", direction="both")
        assert [n.id for n in loop.nodes] == ["loop/self"]
        assert len(loop.edges) == 1


def test_edges_carry_relation_role_method_sources(genealogy: Database) -> None:
    with genealogy.session() as s:
        merges = [
            r for r in five_generations() if r.recipes and r.recipes[0].merge_method == "dare_ties"
        ]
        lineage = lineage_sql(s, merges[0].repo_id, direction="up", depth=1)
    roles = {e.role for e in lineage.edges}
    assert "base" in roles and "ingredient" in roles
    for edge in lineage.edges:
        assert edge.method == "dare_ties"
        if edge.role == "parent":
            assert edge.sources == ["card_metadata"]


def test_unknown_root(genealogy: Database) -> None:
    with genealogy.session() as s, pytest.raises(ModelNotFoundError):
        lineage_sql(s, "nobody/here")


def test_both_tells_ancestors_from_descendants(genealogy: Database) -> None:
    with genealogy.session() as s:
        graph = genealogy_graph(s)
        checked = 0
        for root in [r.repo_id for r in five_generations()]:
            for engine in ("sql", "networkx"):
                kwargs = {"graph": graph} if engine == "networkx" else {}
                walk = lineage_sql if engine == "sql" else lineage_networkx
                up = {n.id for n in walk(s, root, direction="up", **kwargs).nodes}  # type: ignore[operator]
                down = {n.id for n in walk(s, root, direction="down", **kwargs).nodes}  # type: ignore[operator]
                both = walk(s, root, direction="both", **kwargs).to_json()  # type: ignore[operator]
                for node in both["nodes"]:
                    expected = (
                        "root" if node["id"] == root
                        else "both" if node["id"] in up and node["id"] in down
                        else "up" if node["id"] in up
                        else "down"
                    )  # fmt: skip
                    assert node["direction"] == expected, (engine, root, node["id"])
                for edge in both["edges"]:
                    if edge["direction"] == "up":
                        assert edge["child"] in up and edge["parent"] in up
                    elif edge["direction"] == "down":
                        assert edge["child"] in down and edge["parent"] in down
                checked += 1
    assert checked == 2 * len(five_generations())


def test_same_depth_ancestor_and_descendant_differ(genealogy: Database) -> None:
    # gen2 models have parents (depth 1 up) and, in this genealogy, children (depth 1 down).
    with genealogy.session() as s:
        for root in [r.repo_id for r in five_generations() if r.repo_id.startswith("gen2/")]:
            data = lineage_sql(s, root, direction="both", depth=1).to_json()
            ways = {n["direction"] for n in data["nodes"] if n["depth"] == 1}
            if ways >= {"up", "down"}:
                root_node = next(n for n in data["nodes"] if n["id"] == root)
                assert root_node["direction"] == "root" and root_node["depth"] == 0
                return
    pytest.fail("no gen2 model with both a parent and a child")
