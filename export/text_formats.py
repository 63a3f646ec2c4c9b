"""Node-link JSON (streamed), Mermaid for model cards, and DOT for Graphviz.

Node-link JSON is what ``networkx.node_link_graph(data, edges="edges")`` reads:
edges go child → parent as stored.  Mermaid and DOT are drawings, so they read like a
family tree: parents above, an arrow from each parent down to the model made from it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TextIO

from kinhub.db.answers.export_graph import ExportEdge, GenealogyView

# ------------------------------------------------------------------ node-link JSON


def write_node_link(view: GenealogyView, out: TextIO) -> tuple[int, int]:
    """Write ``view`` as one node-link JSON document; returns (nodes, edges)."""

    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    graph = {"name": "kinhub genealogy", "root": view.root, "edge_direction": "child to parent"}
    out.write(f'{{"directed": true, "multigraph": true, "graph": {dump(graph)},\n "nodes": [')
    nodes = edges = 0
    for node in view.nodes():
        out.write(("," if nodes else "") + "\n  " + dump({"id": node.id, **node.attrs}))
        nodes += 1
    out.write('\n ],\n "edges": [')
    for edge in view.edges():
        doc = {"source": edge.child, "target": edge.parent, "key": edges, **edge.attrs}
        out.write(("," if edges else "") + "\n  " + dump(doc))
        edges += 1
    out.write("\n ]\n}\n")
    return nodes, edges


# ------------------------------------------------------------------ labels

# Characters that are invisible or move other text: control and format characters
# (NUL, ESC, bidi overrides, zero-width spaces), surrogates.  In a drawing they become
# visible escapes (``\x00``, ``\u202e``), so a label shows what the name holds.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def visible(value: str) -> str:
    r"""``value`` with control, format and surrogate characters written as ``\xNN`` /
    ``\uNNNN`` (whitespace is left to the caller)."""
    if value.isprintable():
        return value
    out: list[str] = []
    for char in value:
        if char in "\t\n\r" or unicodedata.category(char) not in _HIDDEN_CATEGORIES:
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)


def edge_label(edge: ExportEdge) -> str:
    """A short edge caption: role, merge method, kinship (cs) when measured."""
    attrs = edge.attrs
    relation = attrs.get("relation")
    parts = [str(attrs.get("role", "") if relation in ("merge", "moe") else relation)]
    if "method" in attrs:
        parts.append(str(attrs["method"]))
    if "kinship_cs" in attrs:
        parts.append(f"cs {float(attrs['kinship_cs']):.3f}")
    return " · ".join(p for p in parts if p)


# ------------------------------------------------------------------ Mermaid

MERMAID_MAX_TEXT = 50_000  # mermaid's default maxTextSize; larger diagrams do not render
_MERMAID_ESCAPES = {
    "#": "#35;",
    "%": "#37;",  # "%%" starts a comment or a %%{init}%% directive, even inside quotes
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "`": "#96;",
    "|": "#124;",
    "\\": "#92;",
}
_MERMAID_SPECIAL = re.compile('[#%"<>&`|\\\\]')
MERMAID_EMPTY = "(empty)"
_SPACES = re.compile(r"\s+")


def mermaid_text(value: str) -> str:
    """``value`` for a quoted Mermaid label: entity codes for every character with meaning
    (``%`` included: mermaid finds ``%%{init …}%%`` directives anywhere in the text),
    invisible characters as visible escapes, and ``(empty)`` for a name with nothing to
    show (an empty label makes the whole diagram fail to render)."""
    value = _SPACES.sub(" ", visible(value)).strip() or MERMAID_EMPTY
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_ESCAPES[m.group()], value)


def render_mermaid(view: GenealogyView) -> tuple[str, int, int]:
    """The Mermaid flowchart of ``view``; returns (text, nodes, edges).

    Ids are generated (``n0``, ``n1``, …) and every label is quoted, so no Hub name
    (or unresolved reference) can end a statement or inject markup.
    """
    lines = ["flowchart TD"]
    ids: dict[str, str] = {}
    for node in view.nodes():
        ids[node.id] = f"n{len(ids)}"
        lines.append(f'  {ids[node.id]}["{mermaid_text(node.id)}"]')
        if node.id == view.root:
            lines.append(f"  class {ids[node.id]} root")
        elif node.attrs.get("unresolved"):
            lines.append(f"  class {ids[node.id]} unresolved")
    edges = 0
    for edge in view.edges():
        label = edge_label(edge)
        arrow = f'-->|"{mermaid_text(label)}"|' if label else "-->"
        lines.append(f"  {ids[edge.parent]} {arrow} {ids[edge.child]}")
        edges += 1
    lines.append("  classDef root stroke-width:3px,font-weight:bold")
    lines.append("  classDef unresolved stroke-dasharray:4 3")
    return "\n".join(lines) + "\n", len(ids), edges


# ------------------------------------------------------------------ DOT

RELATION_COLOURS = {
    "merge": "#d9480f",
    "moe": "#7048e8",
    "finetune": "#1c7ed6",
    "adapter": "#2b8a3e",
    "quantized": "#868e96",
}


def dot_string(value: str) -> str:
    """``value`` as a DOT double-quoted string: invisible characters as visible escapes
    (Graphviz reads a NUL as the end of the file)."""
    value = visible(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value.replace("\r", "").replace("\n", "\\n") + '"'


def write_dot(view: GenealogyView, out: TextIO) -> tuple[int, int]:
    r"""Write ``view`` as a Graphviz digraph (parents above children); returns (nodes, edges).

    Node ids are generated (``n0``, ``n1``, …) and the model id is the label, so two
    models stay two nodes even when their labels read alike (``a\x00b`` and ``a\\x00b``).
    """
    out.write(
        "digraph kinhub {\n"
        '  graph [rankdir=TB, fontname="Helvetica"];\n'
        '  node [shape=box, style="rounded,filled", fillcolor="#f8f9fa", fontname="Helvetica"];\n'
        '  edge [fontname="Helvetica", fontsize=10];\n'
    )
    ids: dict[str, str] = {}
    edges = 0
    for node in view.nodes():
        ids[node.id] = f"n{len(ids)}"
        attrs = ["label=" + dot_string(node.id)]
        if node.id == view.root:
            attrs.append('penwidth=3, fillcolor="#fff3bf"')
        elif node.attrs.get("unresolved"):
            attrs.append('style="rounded,dashed"')
        if "license" in node.attrs:
            attrs.append("tooltip=" + dot_string(f"license: {node.attrs['license']}"))
        out.write(f"  {ids[node.id]} [{', '.join(attrs)}];\n")
    for edge in view.edges():
        colour = RELATION_COLOURS.get(str(edge.attrs.get("relation")), "#495057")
        attrs = [f'color="{colour}"', "label=" + dot_string(edge_label(edge))]
        if "kinship_cs" in edge.attrs:
            width = 1 + 4 * max(0.0, float(edge.attrs["kinship_cs"]))
            attrs.append(f"penwidth={width:.2f}")
        out.write(f"  {ids[edge.parent]} -> {ids[edge.child]} [{', '.join(attrs)}];\n")
        edges += 1
    out.write("}\n")
    return len(ids), edges
