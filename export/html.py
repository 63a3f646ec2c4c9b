"""One self-contained, interactive HTML page of a genealogy (opens offline from file://).

The page is the project's own code (``page.js``, ``page.css`` next to this module,
inlined at export time); the graph travels as a JSON document inside a
``<script type="application/json">`` element with ``<``, ``>`` and ``&`` escaped, so no
model name, license or card text can end the element or become markup.  A
Content-Security-Policy allows only the page's own script (by hash) and forbids every
network request.  Layout is computed here: generations in layers, parents above their
children, ordered within a layer to keep crossings few.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import networkx as nx
from kinhub.db.answers.export_graph import RELATIONS, ExportEdge, ExportNode, GenealogyView
from kinhub.db.models import Model, Recipe
from kinhub.export.text_formats import RELATION_COLOURS, edge_label
from sqlmodel import Session, col, select

HTML_MAX_NODES = 2000  # beyond this a browser page stops being usable; use GraphML/GEXF
RECIPE_MAX_CHARS = 20_000
NODE_WIDTH, NODE_HEIGHT, X_GAP, Y_GAP, ROW_GAP = 160, 38, 18, 70, 24
_COLOURS = {**RELATION_COLOURS, "foundation": "#495057", "other": "#adb5bd"}


@dataclass(frozen=True)
class _Placed:
    x: float
    y: float
    generation: int


def _layers(nodes: list[ExportNode], edges: list[ExportEdge]) -> dict[str, _Placed]:
    """Generation = longest chain of parents above a model (cycles share one layer)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(n.id for n in nodes)
    graph.add_edges_from((e.parent, e.child) for e in edges if e.parent != e.child)
    condensed = nx.condensation(graph)
    members = condensed.graph["mapping"]
    level: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        preds = list(condensed.predecessors(component))
        level[component] = 1 + max(level[p] for p in preds) if preds else 0
    layers: dict[int, list[str]] = {}
    for node in graph.nodes:
        layers.setdefault(level[members[node]], []).append(node)
    order = {name: i for layer in layers.values() for i, name in enumerate(sorted(layer))}
    # A few barycentre sweeps (down, then up) keep parents and children close.
    for sweep in range(4):
        neighbours = graph.predecessors if sweep % 2 == 0 else graph.successors
        for depth in sorted(layers, reverse=sweep % 2 == 1):
            layer = layers[depth]

            def centre(name: str, near: Any = neighbours) -> float:
                around = [order[n] for n in near(name)]
                return sum(around) / len(around) if around else order[name]

            layer.sort(key=lambda name: (centre(name), name))
            order.update({name: i for i, name in enumerate(layer)})
    # A generation wider than ``row_max`` models wraps into several rows, so a wide
    # genealogy fills a screen-shaped block instead of one endless line.
    row_max = max(12, math.ceil(math.sqrt(3 * len(nodes))))
    placed, top = {}, 0.0
    for depth in sorted(layers):
        layer = layers[depth]
        for row_start in range(0, len(layer), row_max):
            row = layer[row_start : row_start + row_max]
            width = len(row) * (NODE_WIDTH + X_GAP)
            for i, name in enumerate(row):
                x = i * (NODE_WIDTH + X_GAP) - width / 2 + NODE_WIDTH / 2
                placed[name] = _Placed(x=x, y=top, generation=depth)
            top += NODE_HEIGHT + ROW_GAP
        top += Y_GAP - ROW_GAP
    return placed


def _recipes(session: Session, names: list[str]) -> dict[str, dict[str, str]]:
    priority = {"mergekit_config": 0, "card_recipe": 1, "card_prose": 2}
    best: dict[str, tuple[int, dict[str, str]]] = {}
    for start in range(0, len(names), 500):
        rows = session.execute(
            select(col(Model.repo_id), col(Recipe.source), col(Recipe.raw_text))
            .join(Recipe, col(Recipe.model_id) == col(Model.id))
            .where(col(Model.repo_id).in_(names[start : start + 500]))
        )
        for name, source, text in rows:
            rank = priority.get(source, 9)
            if text and (name not in best or rank < best[name][0]):
                clipped = text if len(text) <= RECIPE_MAX_CHARS else text[:RECIPE_MAX_CHARS] + "\n…"
                best[name] = (rank, {"source": source, "text": clipped})
    return {name: recipe for name, (_rank, recipe) in best.items()}


def page_data(session: Session, view: GenealogyView) -> dict[str, Any]:
    """The JSON document the page draws: nodes with positions, edges by node index."""
    nodes, edges = list(view.nodes()), list(view.edges())
    placed = _layers(nodes, edges)
    index = {node.id: i for i, node in enumerate(nodes)}
    # How a model was made, for its colour: the first of its relations in RELATIONS order.
    made_by: dict[str, str] = {}
    for e in edges:
        relation = str(e.attrs.get("relation", "other"))
        rank = RELATIONS.index(relation) if relation in RELATIONS else len(RELATIONS)
        current = made_by.get(e.child)
        if current is None or rank < (
            RELATIONS.index(current) if current in RELATIONS else len(RELATIONS)
        ):
            made_by[e.child] = relation
    recipes = _recipes(session, [n.id for n in nodes])
    xs = [p.x for p in placed.values()] or [0.0]
    ys = [p.y for p in placed.values()] or [0.0]
    return {
        "root": view.root,
        "colours": _COLOURS,
        "relations": [*RELATIONS, "foundation"],
        "layout": {
            "node_width": NODE_WIDTH,
            "node_height": NODE_HEIGHT,
            "bounds": {
                "x": min(xs) - NODE_WIDTH / 2 - 20,
                "y": min(ys) - NODE_HEIGHT / 2 - 20,
                "width": max(xs) - min(xs) + NODE_WIDTH + 40,
                "height": max(ys) - min(ys) + NODE_HEIGHT + 40,
            },
        },
        "nodes": [
            {
                "id": node.id,
                "x": placed[node.id].x,
                "y": placed[node.id].y,
                "generation": placed[node.id].generation,
                "relation": made_by.get(node.id, "foundation"),
                "attrs": node.attrs,
                "recipe": recipes.get(node.id),
            }
            for node in nodes
        ],
        "edges": [
            {
                "parent": index[e.parent],
                "child": index[e.child],
                "label": edge_label(e),
                "attrs": e.attrs,
            }
            for e in edges
        ],
    }


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>', '&' or line separators unescaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _asset(name: str) -> str:
    return files("kinhub.export").joinpath(name).read_text(encoding="utf-8")


def render_html(session: Session, view: GenealogyView, *, title: str) -> tuple[str, int, int]:
    """The page for ``view``; returns (html, nodes, edges)."""
    data = page_data(session, view)
    script = _asset("page.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
{_asset("page.css")}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<input id="search" type="search" list="names" placeholder="Search a model…" autocomplete="off"
 aria-label="Search a model by name">
<datalist id="names"></datalist>
<span id="search-status" role="status"></span>
<button id="zoom-in" type="button" title="Zoom in">+</button>
<button id="zoom-out" type="button" title="Zoom out">−</button>
<button id="fit" type="button" title="Fit the graph">fit</button>
<div id="legend" aria-label="Colour by relation"></div>
<span id="summary"></span>
</header>
<main><svg id="graph" role="img" aria-label="genealogy graph"><g id="viewport"></g></svg></main>
<aside id="panel" hidden></aside>
<script type="application/json" id="kinhub-data">{script_json(data)}</script>
<script>{script}</script>
</body>
</html>
"""
    return page, len(data["nodes"]), len(data["edges"])
