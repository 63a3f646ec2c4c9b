"""Every exporter keeps hostile names distinct and renders them: a Mermaid label that
opens a ``%%{init}%%`` directive or is empty, a NUL byte in DOT, ids that differ only in
characters XML cannot hold.  Checked by mermaid's own parser in headless Chromium, by
Graphviz's ``dot``, and by networkx's readers (node and edge counts preserved)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from kinhub.db.answers.export_graph import ExportEdge, ExportNode, GenealogyView, Selection
from kinhub.db.engine import open_database
from kinhub.db.records import EdgeRecord, ModelRecord, RecipeRecord
from kinhub.db.store import upsert_model
from kinhub.export.formats import ExportFormat
from kinhub.export.service import export_genealogy
from kinhub.export.text_formats import render_mermaid, write_dot
from kinhub.export.xml_formats import write_gexf, write_graphml, xml_string

from tests.export.browser import console_errors, requested_urls
from tests.export.test_mermaid_render import driver, mermaid_js, render  # noqa: F401

EVIL_URL = "https://evil.example/x.png"
DIRECTIVE = "%%{init: {'theme':'base','themeCSS':'.node rect{fill:url(" + EVIL_URL + ")}'}}%%"
HOSTILE_NAMES = (
    "a\x00b", "a\x01b", "a\x02b", "a\ufffdb", "a\\u0000b", "a\\x00b",
    DIRECTIVE, '%%{init: {"theme": "dark"}}%%', "%%", "%", "", " ", "\t\n",
    "\u202eevil\u202c", "\x1b[31mred\x1b[0m", "x\r\ny", "zero\u200bwidth",
    "end", "graph TD", "a;b", "a-->b", "[x]", "{x}", "((x))", "a:::root", "\\", '"',
    "#quot;", "&amp;", "<b>x</b>", "|", "a\x7fb",
)  # fmt: skip
CHILD, BASE = "org/child", "org/base"


def hostile_view() -> GenealogyView:
    """The genealogy of a merge of every hostile name (unresolved references), in memory:
    the writers see exactly these strings, NUL included (no database stores every one)."""
    nodes = [ExportNode(CHILD, {"status": "ok"}), ExportNode(BASE, {"status": "ok"})]
    nodes += [ExportNode(name, {"unresolved": True, "license": name}) for name in HOSTILE_NAMES]
    edges = [ExportEdge(CHILD, BASE, {"relation": "merge", "role": "base", "method": "ties"})]
    edges += [
        ExportEdge(CHILD, name, {"relation": "merge", "role": "ingredient", "method": name})
        for name in HOSTILE_NAMES
    ]
    return GenealogyView(
        root=None, node_count=len(nodes), nodes=lambda: iter(nodes), edges=lambda: iter(edges)
    )


NODES = len(HOSTILE_NAMES) + 2
EDGES = len(HOSTILE_NAMES) + 1


def _write(writer: Any, view: GenealogyView, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        writer(view, out)
    return path


# ---------------------------------------------------------------- GraphML and GEXF


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_ids_stay_distinct_and_read_back(fmt: str, tmp_path: Path) -> None:
    view = hostile_view()
    if fmt == "graphml":
        graph = nx.read_graphml(_write(write_graphml, view, tmp_path / "h.graphml"))
    else:
        graph = nx.read_gexf(_write(write_gexf, view, tmp_path / "h.gexf"))
    assert graph.number_of_nodes() == NODES
    assert graph.number_of_edges() == EDGES
    assert set(graph.nodes) == {xml_string(n.id) for n in view.nodes()}
    assert xml_string("a\x00b") == "a\\u0000b" and xml_string("a\\u0000b") == "a\\\\u0000b"
    assert xml_string("org/plain-id") == "org/plain-id"


# ---------------------------------------------------------------- DOT


def _dot_nodes(path: Path) -> tuple[int, int]:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is installed by .ci/run")
    done = subprocess.run(["dot", "-Tjson", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    drawn = json.loads(done.stdout)
    return len(drawn.get("objects", [])), len(drawn.get("edges", []))


def test_dot_renders_every_hostile_name(tmp_path: Path) -> None:
    path = _write(write_dot, hostile_view(), tmp_path / "h.dot")
    assert "\x00" not in path.read_text(encoding="utf-8")
    assert _dot_nodes(path) == (NODES, EDGES)
    done = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True, text=True, check=True)
    assert "a\\x00b" in done.stdout and "a\\\\x00b" not in done.stdout.replace("&#92;", "\\")


# ---------------------------------------------------------------- Mermaid


def test_mermaid_labels_cannot_open_a_directive() -> None:
    text, nodes, edges = render_mermaid(hostile_view())
    assert (nodes, edges) == (NODES, EDGES)
    assert "%%" not in text and '[""]' not in text and '|""|' not in text
    assert "\x00" not in text and "\x1b" not in text and "\u202e" not in text


def test_mermaid_renders_every_hostile_name(
    driver: Any,  # noqa: F811
    mermaid_js: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    text, _, _ = render_mermaid(hostile_view())
    result = render(driver, mermaid_js, tmp_path, text)
    assert "error" not in result, result.get("error")
    drawn = driver.execute_script("return document.querySelectorAll('#out g.node').length")
    assert drawn == NODES
    assert (
        driver.execute_script(
            "return document.querySelectorAll('#out .edgePath, #out path.flowchart-link').length"
        )
        >= EDGES
    )
    labels = driver.execute_script("return document.getElementById('out').textContent")
    assert "%%{init: {'theme':'base'" in labels and "(empty)" in labels
    styles = driver.execute_script(
        "return [...document.querySelectorAll('#out style')].map(s => s.textContent).join('')"
    )
    assert styles and "evil.example" not in styles  # the directive was not applied
    assert not [url for url in requested_urls(driver) if "evil.example" in url]
    assert console_errors(driver) == []


# ---------------------------------------------------------------- through the database


@pytest.fixture
def hostile_db(database_url: str) -> Iterator[str]:
    """The hostile names a database holds as unresolved references (PostgreSQL text
    cannot hold NUL, so those are left out here; the writers see them above)."""
    names = [n for n in HOSTILE_NAMES if "\x00" not in n]
    database = open_database(database_url)
    try:
        with database.session() as session:
            upsert_model(session, ModelRecord(repo_id=BASE, sha="0" * 40))
            upsert_model(
                session,
                ModelRecord(
                    repo_id=CHILD,
                    sha="1" * 40,
                    license=DIRECTIVE,
                    edges=[
                        EdgeRecord(
                            parent=BASE, relation="merge", role="base", source="card_recipe"
                        ),
                        *[
                            EdgeRecord(
                                parent=name,
                                parent_resolved=False,
                                relation="merge",
                                role="ingredient",
                                source="card_recipe",
                            )
                            for name in names
                        ],
                    ],
                    recipes=[
                        RecipeRecord(source="card_recipe", merge_method=DIRECTIVE, base_model=BASE)
                    ],
                ),
            )
            session.commit()
    finally:
        database.dispose()
    yield database_url


def test_every_format_keeps_every_stored_name(hostile_db: str, tmp_path: Path) -> None:
    database = open_database(hostile_db)
    try:
        texts: dict[ExportFormat, str] = {}
        counts: dict[ExportFormat, tuple[int, int]] = {}
        with database.session() as session:
            for fmt in ExportFormat:
                out = io.StringIO()
                summary = export_genealogy(
                    session, selection=Selection(), fmt=fmt, out=out, max_nodes=10_000
                )
                texts[fmt], counts[fmt] = out.getvalue(), (summary.nodes, summary.edges)
    finally:
        database.dispose()
    stored = nx.node_link_graph(json.loads(texts[ExportFormat.json]), edges="edges")
    expected = (stored.number_of_nodes(), stored.number_of_edges())
    assert expected[0] >= 20  # the store kept most hostile names as distinct references
    assert set(counts.values()) == {expected}
    for fmt, reader in ((ExportFormat.graphml, nx.read_graphml), (ExportFormat.gexf, nx.read_gexf)):
        path = tmp_path / f"h.{fmt.value}"
        path.write_text(texts[fmt], encoding="utf-8")
        graph = reader(path)
        assert (graph.number_of_nodes(), graph.number_of_edges()) == expected, fmt
        assert set(graph.nodes) == {xml_string(n) for n in stored.nodes}
    dot = tmp_path / "h.dot"
    dot.write_text(texts[ExportFormat.dot], encoding="utf-8")
    assert _dot_nodes(dot) == expected
    assert "%%" not in texts[ExportFormat.mermaid]
