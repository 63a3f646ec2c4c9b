"""``kinhub relatives`` on SQLite and PostgreSQL: a generated family served by the
emulator over real HTTP (sketched with ``kinhub sketch``), where a child's undeclared
true parent is its nearest relative; and a few hundred generated sketches stored
through the real store functions, where the summary shortlist must find the exact
top-K."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database, open_database
from kinhub.db.models import Edge, Setting, SketchSummary
from kinhub.db.sketch_store import find_model
from kinhub.kinship.relatives import SUMMARIES_COMPLETE, find_relatives
from kinhub.kinship.sketch import SketchRead, store_sketch
from kinhub.kinship.sketch_compare import compare, value_weights, weighted_cosines
from kinhub.kinship.sketch_plan import make_plan
from kinhub.sandbox.sketch_families import sketch_families
from kinhub.sandbox.tensors import Arch, base_state, finetune, llama_shapes, merge_linear
from kinhub.sandbox.weights import save_model
from sqlmodel import col, delete, select
from typer.testing import CliRunner

from tests.conftest import HubEmulators

runner = CliRunner()
ARCH = Arch(vocab=512, hidden=64, layers=2, intermediate=128)
# child's card declares only the base; its true parent is ft1 (a fine-tune of ft1).
DECLARED = {
    "kin/ft1": ["kin/base"],
    "kin/ft2": ["kin/base"],
    "kin/ft3": ["kin/base"],
    "kin/child": ["kin/base"],
    "kin/merge": ["kin/ft2", "kin/ft3"],
    "kin/lone": [],
}


@pytest.fixture(scope="module")
def relatives_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("relatives-hub")
    base = base_state(ARCH, seed=7)
    ft = {
        n: finetune(base, seed=10 + i, shared_seed=99, rho=rho)
        for i, (n, rho) in enumerate((("ft1", 0.5), ("ft2", 0.5), ("ft3", 0.1)))
    }
    states = {
        "base": base,
        **ft,
        "child": finetune(ft["ft1"], seed=20, shared_seed=21, rho=0.0, scale=0.0005),
        "merge": merge_linear([ft["ft2"], ft["ft3"]], [0.5, 0.5]),
        "lone": finetune(base, seed=30, shared_seed=31, rho=0.0),
    }
    for name, state in states.items():
        save_model(state, root / "kin" / name, config=ARCH.config(), dtype="bf16")
    other = Arch(vocab=512, hidden=64, layers=3, intermediate=128)
    save_model(base_state(other, seed=1), root / "odd" / "x", config=other.config())
    return root


def _invoke(db_url: str, *args: str, code: int = 0) -> object:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 and "json" in args else result


def _declare(db_url: str, edges: dict[str, list[str]]) -> None:
    db = open_database(db_url)
    try:
        with db.write_transaction() as session:
            for child, parents in edges.items():
                c = find_model(session, child)
                for parent in parents:
                    p = find_model(session, parent)
                    assert c is not None and p is not None and c.id and p.id
                    relation = "merge" if child == "kin/merge" else "finetune"
                    role = "ingredient" if relation == "merge" else "parent"
                    session.add(
                        Edge(child_id=c.id, parent_id=p.id, relation=relation, role=role,
                             source="card_metadata")
                    )  # fmt: skip
    finally:
        db.dispose()


@pytest.fixture
def sketched(relatives_hub: Path, database_url: str, hub_emulator: HubEmulators) -> str:
    """The family sketched into a fresh database (by ``kinhub sketch``), edges declared."""
    with hub_emulator(relatives_hub, set_endpoint=True):
        names = ["kin/base", *DECLARED, "odd/x"]
        docs = _invoke(database_url, "sketch", *names, "--format", "json")
    assert isinstance(docs, list) and all(d["status"] == "sketched" for d in docs)
    _declare(database_url, DECLARED)
    return database_url


def test_undeclared_true_parent_is_the_nearest_relative(sketched: str) -> None:
    doc = _invoke(sketched, "relatives", "kin/child", "--format", "json")
    assert isinstance(doc, dict)
    assert doc["model"] == "kin/child" and doc["base"] == "kin/base"
    assert doc["base_from"] == "genealogy" and len(doc["sha"]) == 40
    assert doc["candidates"] == 7  # the plan's sketches: not odd/x (another shape)
    got = doc["relatives"]
    names = [r["model"] for r in got]
    assert names[0] == "kin/ft1" and got[0]["declared"] is False
    assert got[0]["similarity"] > 0.9
    assert set(names) == {"kin/ft1", "kin/ft2", "kin/ft3", "kin/merge", "kin/lone"}
    sims = [r["similarity"] for r in got]
    assert sims == sorted(sims, reverse=True)
    assert abs(got[names.index("kin/lone")]["similarity"]) < 0.1
    assert all(len(r["sha"]) == 40 for r in got)


def test_declared_parents_and_children_are_marked(sketched: str) -> None:
    doc = _invoke(sketched, "relatives", "kin/merge", "--format", "json")
    assert isinstance(doc, dict) and doc["base"] == "kin/base"  # the root, two hops up
    marks = {r["model"]: r["declared"] for r in doc["relatives"]}
    assert marks["kin/ft2"] is True and marks["kin/ft3"] is True
    assert marks["kin/ft1"] is False and marks["kin/child"] is False
    assert [r["model"] for r in doc["relatives"][:2]] in (
        ["kin/ft2", "kin/ft3"],
        ["kin/ft3", "kin/ft2"],
    )
    down = _invoke(sketched, "relatives", "kin/ft2", "--format", "json")
    assert isinstance(down, dict)
    assert {r["model"]: r["declared"] for r in down["relatives"]}["kin/merge"] is True


def test_top_and_base_option(sketched: str) -> None:
    doc = _invoke(sketched, "relatives", "kin/child", "--top", "2", "--format", "json")
    assert isinstance(doc, dict) and doc["relatives"][0]["model"] == "kin/ft1"
    assert len(doc["relatives"]) == 2
    # Against ft1 as the base, child's change is its own noise: nothing is near.
    own = _invoke(sketched, "relatives", "kin/child", "--base", "kin/ft1", "--format", "json")
    assert isinstance(own, dict) and own["base"] == "kin/ft1" and own["base_from"] == "option"
    assert "kin/ft1" not in [r["model"] for r in own["relatives"]]
    assert all(abs(r["similarity"]) < 0.2 for r in own["relatives"])


def test_similarity_agrees_with_kinship_sketch_cs(sketched: str) -> None:
    doc = _invoke(sketched, "relatives", "kin/child", "--format", "json")
    assert isinstance(doc, dict)
    for r in doc["relatives"]:
        kin = _invoke(
            sketched,
            "kinship", "kin/child", r["model"], "--base", "kin/base", "--sketch",
            "--format", "json",
        )  # fmt: skip
        assert isinstance(kin, dict)
        assert abs(kin["metrics"]["cs"] - r["similarity"]) < 1e-9, r


def test_table_and_errors(sketched: str) -> None:
    out = _invoke(sketched, "relatives", "kin/child").stdout  # type: ignore[attr-defined]
    assert "kin/ft1" in out and "no" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    lone = _invoke(sketched, "relatives", "kin/base", code=1)
    assert "pass --base" in lone.output and len(lone.output.strip().splitlines()) == 1  # type: ignore[attr-defined]
    missing = _invoke(sketched, "relatives", "kin/nope", code=1)
    assert "not in the database" in missing.output  # type: ignore[attr-defined]
    other = _invoke(sketched, "relatives", "kin/child", "--base", "odd/x", code=1)
    assert "another plan" in other.output  # type: ignore[attr-defined]
    usage = _invoke(sketched, "relatives", "kin/child", "--top", "0", code=2)
    assert len(usage.output.strip().splitlines()) == 1  # type: ignore[attr-defined]


def test_a_model_without_a_sketch_is_one_line(database_url: str) -> None:
    db = open_database(database_url)
    try:
        with db.write_transaction() as session:
            from kinhub.db.sketch_store import model_row

            model_row(session, "kin/x")
    finally:
        db.dispose()
    result = _invoke(database_url, "relatives", "kin/x", code=1)
    assert "no stored sketch" in result.output  # type: ignore[attr-defined]


# -- the summary shortlist against a brute-force exact ranking ----------------------------


def _store_generated(db: Database, models: int, size: int, seed: int) -> tuple[object, object]:
    layout = make_plan(llama_shapes(5e7), size=size)
    fam = sketch_families(models, layout.num_values, seed=seed, family_size=40)
    for name, values in zip(fam.names, fam.values, strict=True):
        read = SketchRead(
            model=name, sha=f"{len(name):040x}", layout=layout, values=values, bytes_read=0,
            requests=0, cdn_requests=0, reresolves=0, seconds=0.0,
        )  # fmt: skip
        store_sketch(db, read)
    return layout, fam


def test_summary_shortlist_finds_the_exact_top_k(database: Database) -> None:
    layout, fam = _store_generated(database, 400, 4096, seed=3)
    values = fam.values  # type: ignore[attr-defined]
    names = fam.names  # type: ignore[attr-defined]
    weights = value_weights(layout)  # type: ignore[arg-type]
    z = values[0].astype(np.float64)
    rng = np.random.default_rng(0)
    top, hits = 10, 0
    queries = [int(q) for q in rng.choice(np.arange(1, len(names)), size=8, replace=False)]
    for q in queries:
        exact = weighted_cosines(weights, values[q] - z, values.astype(np.float64) - z)
        exact[[0, q]] = -np.inf
        want = [names[i] for i in np.argsort(-exact, kind="stable")[:top]]
        found = find_relatives(database, names[q], top=top, base=names[0], shortlist=50)
        got = [r.model for r in found.relatives]
        hits += len(set(got) & set(want))
        assert found.candidates == 400 and found.shortlist == 50
        for r in found.relatives:  # the reported similarity is the exact one
            assert abs(r.similarity - exact[names.index(r.model)]) < 1e-9
    assert hits / (top * len(queries)) >= 0.95
    # weighted_cosines is compare's cs (the same Horvitz–Thompson weights)
    q = queries[0]
    cs = compare(layout, values[q], values[1], values[0], metrics=["cs"], resamples=2)[0]["cs"]  # type: ignore[arg-type]
    assert abs(cs - weighted_cosines(weights, values[q] - z, values[1:2] - z)[0]) < 1e-9


def test_sketches_stored_before_summaries_get_one_at_the_first_query(database: Database) -> None:
    _, fam = _store_generated(database, 60, 2048, seed=5)
    names = fam.names  # type: ignore[attr-defined]
    before = find_relatives(database, names[7], base=names[0])
    with database.write_transaction() as session:  # as a database before migration 0011
        session.execute(delete(SketchSummary))
        session.execute(delete(Setting).where(col(Setting.name) == SUMMARIES_COMPLETE))
    after = find_relatives(database, names[7], base=names[0])
    assert after.backfilled == 60 and after.candidates == 60
    assert [r.model for r in after.relatives] == [r.model for r in before.relatives]
    with database.session() as session:
        assert len(session.exec(select(SketchSummary)).all()) == 60
    assert find_relatives(database, names[7], base=names[0]).backfilled == 0


def test_pages_hold_the_summaries_and_stay_right_after_updates(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kinhub.db import sketch_summary as summaries
    from kinhub.kinship import relatives

    layout, fam = _store_generated(database, 120, 2048, seed=8)
    names, values = fam.names, fam.values  # type: ignore[attr-defined]
    before = find_relatives(database, names[9], base=names[0])
    assert before.packed == 0  # 120 rows: read as they are
    monkeypatch.setattr(relatives, "REPACK_AT", 50)
    monkeypatch.setattr(summaries, "PAGE_SIZE", 32)
    packed = find_relatives(database, names[9], base=names[0])
    assert packed.packed == 120 and packed.candidates == 120
    assert [r.model for r in packed.relatives] == [r.model for r in before.relatives]
    with database.session() as session:
        assert summaries.count_unpacked(session, layout.key) == 0  # type: ignore[attr-defined]
        pages = summaries.load_summaries(session, layout.key)  # type: ignore[attr-defined]
    ids = pages.model_ids().tolist()
    assert len(set(ids)) == len(ids) == 120 and len(pages.blocks) == 4
    # A new revision of a packed model: its row (unpacked) replaces the page's copy.
    twin = names[names.index(before.relatives[0].model)]
    read = SketchRead(
        model=twin, sha="f" * 40, layout=layout, values=values[9], bytes_read=0,  # type: ignore[arg-type]
        requests=0, cdn_requests=0, reresolves=0, seconds=0.0,
    )  # fmt: skip
    store_sketch(database, read)
    again = find_relatives(database, names[9], base=names[0])
    assert again.packed == 0 and again.candidates == 120
    assert again.relatives[0].model == twin and again.relatives[0].sha == "f" * 40
    assert again.relatives[0].similarity > 0.999999
