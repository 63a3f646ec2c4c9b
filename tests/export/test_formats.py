"""Export formats on the known family: read-back with networkx, filters, escaping, Graphviz."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from kinhub.db.answers.export_graph import Selection
from kinhub.db.engine import Database
from kinhub.export.service import ExportFormat, ExportTooLargeError, export_genealogy
from kinhub.export.text_formats import mermaid_text
from sqlalchemy import event

from tests.export.family import (
    ANON,
    BASE,
    HOSTILE,
    HOSTILE_REF,
    MERGE_X,
    MERGE_Y,
    NC,
    QUANT,
    RESOLVED_IDS,
    SFT,
)


def export_text(database: Database, fmt: ExportFormat, **selection: Any) -> str:
    out = io.StringIO()
    with database.session() as session:
        export_genealogy(session, selection=Selection(**selection), fmt=fmt, out=out)
    return out.getvalue()


def read_back(database: Database, fmt: ExportFormat, tmp_path: Path, **selection: Any) -> Any:
    text = export_text(database, fmt, **selection)
    path = tmp_path / f"family.{fmt.value}"
    path.write_text(text, encoding="utf-8")
    if fmt is ExportFormat.graphml:
        return nx.read_graphml(path)
    if fmt is ExportFormat.gexf:
        return nx.read_gexf(path)
    return nx.node_link_graph(json.loads(text), edges="edges")


def canonical(
    graph: Any,
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]:
    """Nodes and edges with the bookkeeping each reader adds (labels, ids, keys) removed."""
    nodes = {n: {k: v for k, v in d.items() if k != "label"} for n, d in graph.nodes(data=True)}
    edges = sorted(
        (
            (u, v, {k: x for k, x in d.items() if k not in ("id", "key")})
            for u, v, d in graph.edges(data=True)
        ),
        key=lambda e: (e[0], e[1], e[2]["relation"], e[2]["role"]),
    )
    return nodes, edges


def test_graphml_gexf_and_json_read_back_to_the_same_graph(
    family_db: Database, tmp_path: Path
) -> None:
    graphs = {
        fmt: canonical(read_back(family_db, fmt, tmp_path))
        for fmt in (ExportFormat.graphml, ExportFormat.gexf, ExportFormat.json)
    }
    nodes, edges = graphs[ExportFormat.graphml]
    assert graphs[ExportFormat.gexf] == (nodes, edges)
    assert graphs[ExportFormat.json] == (nodes, edges)

    assert set(nodes) == {*RESOLVED_IDS, HOSTILE_REF}
    merge_x = nodes[MERGE_X]
    assert merge_x["license"] == "apache-2.0"
    assert merge_x["downloads"] == 2000 and isinstance(merge_x["downloads"], int)
    assert merge_x["eval_average"] == pytest.approx(65.0)
    assert merge_x["unresolved"] is False
    assert nodes[HOSTILE_REF]["unresolved"] is True
    assert "license" not in nodes[ANON]  # missing values are left out, never "None"

    by_pair = {(u, v): d for u, v, d in edges}
    to_nc = by_pair[(MERGE_X, NC)]
    assert to_nc["relation"] == "merge" and to_nc["role"] == "ingredient"
    assert to_nc["method"] == "dare_ties"
    assert to_nc["sources"] == "hub_tag, mergekit_config"
    assert json.loads(to_nc["parameters"]) == {"density": 0.5, "weight": 0.6}
    assert to_nc["kinship_cs"] == pytest.approx(0.8)
    assert to_nc["kinship_pcc"] == pytest.approx(0.79)
    assert to_nc["kinship_ed"] == pytest.approx(1.5)
    assert to_nc["kinship_base"] == BASE and to_nc["kinship_mode"] == "exact"
    assert by_pair[(MERGE_X, BASE)]["role"] == "base"
    assert "kinship_cs" not in by_pair[(MERGE_X, ANON)]
    assert by_pair[(QUANT, MERGE_X)]["relation"] == "quantized"
    assert "method" not in by_pair[(QUANT, MERGE_X)]

    # Every attribute is a plain typed value: no Python reprs anywhere.
    values = [v for d in nodes.values() for v in d.values()]
    values += [v for _u, _v, d in edges for v in d.values()]
    for value in values:
        assert isinstance(value, str | int | float | bool)
        if isinstance(value, str):
            assert value != "None" and not value.startswith(("[", "{'", "("))


def test_subgraph_direction_depth_and_filters(family_db: Database, tmp_path: Path) -> None:
    def nodes(fmt: ExportFormat = ExportFormat.json, **selection: Any) -> set[str]:
        return set(read_back(family_db, fmt, tmp_path, **selection).nodes)

    assert nodes(model=MERGE_Y) == {MERGE_Y, MERGE_X, SFT, NC, ANON, BASE}
    assert nodes(model=MERGE_Y, depth=1) == {MERGE_Y, MERGE_X, SFT}
    assert nodes(model=BASE, direction="down", relations=frozenset({"finetune"})) == {
        BASE,
        NC,
        SFT,
        ANON,
    }
    # The root stays whatever its downloads; models below the bar and what hangs only
    # from them disappear.
    assert nodes(model=MERGE_Y, min_downloads=1000) == {MERGE_Y, MERGE_X, NC, BASE}
    assert nodes(relations=frozenset({"quantized"})) == {QUANT, MERGE_X}
    whole = read_back(family_db, ExportFormat.graphml, tmp_path, min_downloads=1000)
    assert set(whole.nodes) == {BASE, NC, MERGE_X, QUANT}
    assert set(whole.edges) == {(NC, BASE), (MERGE_X, BASE), (MERGE_X, NC), (QUANT, MERGE_X)}

    both = read_back(family_db, ExportFormat.graphml, tmp_path, model=MERGE_X, direction="both")
    assert both.nodes[MERGE_X]["direction"] == "root"
    assert both.nodes[QUANT]["direction"] == "down" and both.nodes[QUANT]["depth"] == 1
    assert both.nodes[BASE]["direction"] == "up"
    assert both.nodes[MERGE_Y]["direction"] == "down"


def test_mermaid_quotes_every_label(family_db: Database) -> None:
    text = export_text(family_db, ExportFormat.mermaid)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    node_lines = [line for line in lines if "[" in line and "-->" not in line]
    assert len(node_lines) == len(RESOLVED_IDS) + 1
    for line in node_lines:
        assert re.fullmatch(r'  n\d+\["[^"<>`|]*"\]', line), line
    for line in (line for line in lines if "-->" in line):
        assert re.fullmatch(r'  n\d+ -->(\|"[^"<>`|]*"\|)? n\d+', line), line
    assert f'["{mermaid_text(HOSTILE_REF)}"]' in text
    assert "dare_ties · cs 0.800" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by .ci/run")
def test_dot_renders_with_graphviz(family_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "family.dot"
    path.write_text(export_text(family_db, ExportFormat.dot), encoding="utf-8")
    done = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    svg = done.stdout
    assert svg.count('class="node"') == len(RESOLVED_IDS) + 1
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in svg
    assert "<script>" not in svg


def test_whole_export_never_reads_recipe_texts(family_db: Database) -> None:
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(family_db.engine, "before_cursor_execute", remember)
    try:
        for fmt in (ExportFormat.graphml, ExportFormat.gexf, ExportFormat.json, ExportFormat.dot):
            export_text(family_db, fmt)
    finally:
        event.remove(family_db.engine, "before_cursor_execute", remember)
    assert statements
    assert not [s for s in statements if "raw_text" in s]


def test_readable_formats_refuse_beyond_their_limit(family_db: Database) -> None:
    out = io.StringIO()
    with family_db.session() as session, pytest.raises(ExportTooLargeError) as raised:
        export_genealogy(
            session, selection=Selection(), fmt=ExportFormat.html, out=out, max_nodes=3
        )
    assert out.getvalue() == ""
    message = str(raised.value)
    assert "whole genealogy has 9 models" in message
    assert "--format graphml" in message and "subgraph" in message
    with family_db.session() as session, pytest.raises(ExportTooLargeError) as raised:
        export_genealogy(
            session,
            selection=Selection(model=HOSTILE, direction="up"),
            fmt=ExportFormat.mermaid,
            out=out,
            max_nodes=2,
        )
    assert "around 'merger/hostile'" in str(raised.value) and "--depth" in str(raised.value)
