"""`kinhub export`, `show`, `licenses` and `stats` on SQLite and PostgreSQL, bad input included."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from kinhub.db.crawl_state import record_run, save_checkpoint
from kinhub.db.engine import open_database
from kinhub.db.jobs.keys import job_key
from kinhub.db.models import KinshipJob
from kinhub.db.timeutil import parse_hub_time

from tests.export.conftest import Kinhub
from tests.export.family import (
    ANON,
    BASE,
    HOSTILE_REF,
    MERGE_X,
    MERGE_X_RECIPE,
    MERGE_Y,
    NC,
    QUANT,
    RESOLVED_IDS,
    SFT,
)


@pytest.fixture
def kinhub(family_url: str) -> Kinhub:
    return Kinhub(family_url)


@pytest.fixture
def empty(database_url: str) -> Kinhub:
    open_database(database_url).dispose()  # migrated, no models
    return Kinhub(database_url)


# ---------------------------------------------------------------- export


def test_export_json_to_stdout_and_every_format_to_a_file(kinhub: Kinhub, tmp_path: Path) -> None:
    data = kinhub.json("export", "--format", "json", MERGE_Y, "--up")
    graph = nx.node_link_graph(data, edges="edges")
    assert set(graph.nodes) == {MERGE_Y, MERGE_X, SFT, NC, ANON, BASE}
    assert data["graph"]["root"] == MERGE_Y

    for fmt in ("graphml", "gexf", "json", "mermaid", "dot", "html"):
        target = tmp_path / f"family.{fmt}"
        result = kinhub.run("export", "--format", fmt, "-o", str(target))
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert f"wrote {len(RESOLVED_IDS) + 1} models" in result.stderr
        assert target.stat().st_size > 0
    assert set(nx.read_graphml(tmp_path / "family.graphml").nodes) == {*RESOLVED_IDS, HOSTILE_REF}


def test_export_filters_from_the_command_line(kinhub: Kinhub) -> None:
    data = kinhub.json("export", "--format", "json", "--relation", "quantized")
    assert {n["id"] for n in data["nodes"]} == {QUANT, MERGE_X}
    data = kinhub.json(
        "export", "--format", "json", BASE, "--down", "--depth", "1", "--min-downloads", "500"
    )
    assert {n["id"] for n in data["nodes"]} == {BASE, NC, ANON, MERGE_X}  # not SFT: 40


def test_an_empty_database_is_one_clear_error(empty: Kinhub) -> None:
    for args in (
        ("export", "--format", "graphml"),
        ("export", "--format", "html", "ghost/model"),
        ("show", MERGE_X, "--format", "json"),
        ("licenses", MERGE_Y),
        ("stats", "--format", "json"),
        ("stats",),
    ):
        assert "holds no models yet" in empty.fails(*args), args


def test_export_bad_input(kinhub: Kinhub, tmp_path: Path) -> None:
    assert "'ghost/model' is not in the database" in kinhub.fails(
        "export", "--format", "graphml", "ghost/model"
    )

    out = tmp_path / "out"
    out.mkdir()
    target = out / "too-big.html"
    message = kinhub.fails("export", "--format", "html", "--max-nodes", "3", "-o", str(target))
    assert "whole genealogy has 9 models" in message and "--format graphml" in message
    assert list(out.iterdir()) == []  # no half-written file
    message = kinhub.fails("export", "--format", "mermaid", MERGE_Y, "--max-nodes", "2")
    assert f"subgraph around '{MERGE_Y}' has 6 models" in message

    assert "no folder" in kinhub.fails(
        "export", "--format", "dot", "-o", str(tmp_path / "missing" / "x.dot")
    )
    message = kinhub.fails("export", "--format", "dot", "-o", str(out))  # a folder
    assert message.startswith(f"error: cannot write {str(out)!r}")
    assert list(out.iterdir()) == []
    usage = kinhub.run("export", "--format", "json", "--relation", "merge,cousin")
    assert usage.exit_code == 2 and "cousin" in usage.stderr
    usage = kinhub.run("export", "--format", "json", "--depth", "2")
    assert usage.exit_code == 2 and "need a MODEL" in usage.stderr


def test_whole_hub_html_refuses_at_the_default_limit(tmp_path: Path) -> None:
    from kinhub.db.records import EdgeRecord, ModelRecord
    from kinhub.db.store import upsert_model

    url = f"sqlite:///{tmp_path / 'big.db'}"
    database = open_database(url)
    with database.session() as session:
        for i in range(2001):
            parent = (
                [
                    EdgeRecord(
                        parent="org/m0", relation="finetune", role="parent", source="card_metadata"
                    )
                ]
                if i
                else []
            )
            upsert_model(session, ModelRecord(repo_id=f"org/m{i}", sha="a", edges=parent))
    database.dispose()
    kinhub = Kinhub(url)
    message = kinhub.fails("export", "--format", "html")
    assert "whole genealogy has 2,001 models" in message and "(2,000)" in message
    assert "GraphML or GEXF" in message
    # The subgraph of one model is fine, and GraphML takes everything.
    assert "org/m7" in kinhub.ok("export", "--format", "html", "org/m7", "--up")
    assert kinhub.ok("export", "--format", "graphml").count("<node ") == 2001


# ---------------------------------------------------------------- show


def test_show_reports_everything_about_a_model(kinhub: Kinhub) -> None:
    data = kinhub.json("show", MERGE_X, "--format", "json")
    assert data["repo_id"] == MERGE_X and data["license"] == "apache-2.0"
    assert data["crawl"]["status"] == "ok" and data["crawl"]["last_error"] is None
    parents = {(p["id"], p["role"]) for p in data["parents"]}
    assert parents == {
        (BASE, "base"),
        (NC, "ingredient"),
        (SFT, "ingredient"),
        (ANON, "ingredient"),
    }
    nc = next(p for p in data["parents"] if p["id"] == NC)
    assert nc["sources"] == ["hub_tag", "mergekit_config"]
    assert nc["parameters"] == {"density": 0.5, "weight": 0.6}
    assert {(c["id"], c["relation"]) for c in data["children"]} >= {
        (MERGE_Y, "merge"),
        (QUANT, "quantized"),
    }
    [recipe] = data["recipes"]
    assert recipe["merge_method"] == "dare_ties" and recipe["raw_text"] == MERGE_X_RECIPE
    assert sorted(e["value"] for e in data["evaluations"]) == [60.0, 70.0]
    assert {(k["model_b"], k["cs"]) for k in data["kinship"]} == {(NC, 0.8), (SFT, 0.3)}

    table = kinhub.ok("show", MERGE_X)
    assert MERGE_X in table and "dare_ties" in table and "Parents" in table


def test_show_unknown_model(kinhub: Kinhub) -> None:
    assert "'ghost/model' is not in the database" in kinhub.fails("show", "ghost/model")


# ---------------------------------------------------------------- licenses


def test_licenses_flags_a_noncommercial_ancestor_and_an_unknown_one(kinhub: Kinhub) -> None:
    data = kinhub.json("licenses", MERGE_Y, "--format", "json")
    assert (data["id"], data["license"], data["class"]) == (MERGE_Y, "apache-2.0", "permissive")
    ancestors = {a["id"]: a for a in data["ancestors"]}
    assert set(ancestors) == {MERGE_X, SFT, NC, ANON, BASE}
    assert (ancestors[NC]["license"], ancestors[NC]["class"]) == ("cc-by-nc-4.0", "noncommercial")
    assert ancestors[NC]["depth"] == 2
    assert (ancestors[ANON]["license"], ancestors[ANON]["class"]) == ("unknown", "unknown")
    kinds = {(w["kind"], w["model"]) for w in data["warnings"]}
    assert kinds == {("more_permissive", NC), ("unknown", ANON)}
    nc_warning = next(w["message"] for w in data["warnings"] if w["model"] == NC)
    assert "apache-2.0 (permissive)" in nc_warning and "cc-by-nc-4.0 (noncommercial)" in nc_warning

    result = kinhub.run("licenses", MERGE_Y)
    assert result.exit_code == 0
    assert "cc-by-nc-4.0" in result.stdout and "unknown" in result.stdout
    assert "more permissive" in result.stderr
    assert kinhub.run("licenses", MERGE_Y, "--strict").exit_code == 2
    clean = kinhub.json("licenses", NC, "--format", "json")  # nc under apache base: fine
    assert clean["warnings"] == []
    assert kinhub.run("licenses", NC, "--strict").exit_code == 0


def test_licenses_unknown_model(kinhub: Kinhub) -> None:
    assert "'ghost/model' is not in the database" in kinhub.fails("licenses", "ghost/model")


# ---------------------------------------------------------------- stats


def test_stats_counts_kinship_crawl_and_jobs(kinhub: Kinhub) -> None:
    database = open_database(kinhub.url)
    with database.session() as session:
        record_run(session, kind="crawl", scope="merges", status="ok", counts={"models": 8})
        save_checkpoint(
            session,
            "listing:merges",
            cursor=None,
            high_water=parse_hub_time("2026-11-01T00:00:00Z"),
        )
        for i, status in enumerate(("pending", "pending", "failed")):
            b = f"other/model-{i}"
            session.add(
                KinshipJob(
                    job_key=job_key(kind="edge", model_a=MERGE_Y, model_b=b, base=BASE),
                    kind="edge",
                    model_a=MERGE_Y,
                    model_b=b,
                    base=BASE,
                    status=status,
                )
            )
    database.dispose()

    data = kinhub.json("stats", "--format", "json")
    assert data["models"]["total"] == 9
    assert data["models"]["unresolved"] == 1
    assert data["edges"] == {"finetune": 3, "merge": 8, "quantized": 1}
    assert data["methods"] == {"slerp": 2, "dare_ties": 1}
    top = data["most_merged"][0]
    assert top == {"id": MERGE_X, "merges": 2, "as_base": 0}
    assert {"id": BASE, "merges": 1, "as_base": 1} in data["most_merged"]
    cs = data["kinship"]["cs"]
    assert (cs["count"], cs["min"], cs["max"]) == (2, 0.3, 0.8)
    assert cs["mean"] == pytest.approx(0.55)
    assert data["crawl"]["last_run"]["status"] == "ok"
    assert data["crawl"]["high_water"].startswith("2026-11-01")
    assert data["jobs"] == [
        {"kind": "edge", "status": "failed", "count": 1},
        {"kind": "edge", "status": "pending", "count": 2},
    ]
    table = kinhub.ok("stats")
    assert "dare_ties" in table and "Kinship jobs" in table
