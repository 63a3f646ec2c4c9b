"""GraphML and GEXF, written as a stream: one element per node and edge, nothing held.

networkx's own writers build the whole document (and the graph) in memory first; these
write the same formats element by element from a :class:`GenealogyView`, declare every
attribute with its type up front (the attribute set is fixed), and are checked against
networkx's readers.  Edges go child → parent, as stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

from kinhub.db.answers.export_graph import (
    EDGE_ATTRIBUTES,
    NODE_ATTRIBUTES,
    Attribute,
    GenealogyView,
    Scalar,
)

# A backslash, and the characters XML 1.0 cannot carry at all, not even as character
# references (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML_OR_BACKSLASH = re.compile("[\\\\\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _encode_char(match: re.Match[str]) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\u{ord(char):04x}"


def xml_string(value: str) -> str:
    r"""``value`` with what XML cannot hold written reversibly: ``\`` as ``\\`` and
    each character XML 1.0 cannot carry as ``\uXXXX`` — so two ids that differ only in
    such characters stay two ids (replacing them all with U+FFFD made them one).
    A string with neither is written as it is."""
    if _NOT_XML_OR_BACKSLASH.search(value) is None:
        return value
    return _NOT_XML_OR_BACKSLASH.sub(_encode_char, value)


def xml_text(value: str) -> str:
    """``value`` escaped for element text (see :func:`xml_string`)."""
    return escape(xml_string(value))


def xml_attr(value: str) -> str:
    """``value`` as a quoted, escaped XML attribute value (see :func:`xml_string`)."""
    return quoteattr(xml_string(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _format(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ------------------------------------------------------------------ GraphML

_GRAPHML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)


def _graphml_keys(prefix: str, scope: str, attributes: Iterable[Attribute]) -> str:
    return "".join(
        f'  <key id="{prefix}_{a.name}" for="{scope}" attr.name="{a.name}" '
        f'attr.type="{a.type}"><desc>{xml_text(a.description)}</desc></key>\n'
        for a in attributes
    )


def _graphml_data(prefix: str, attrs: dict[str, Scalar]) -> str:
    return "".join(
        f'<data key="{prefix}_{name}">{xml_text(_format(value))}</data>'
        for name, value in attrs.items()
    )


def write_graphml(view: GenealogyView, out: TextIO) -> tuple[int, int]:
    """Write ``view`` as GraphML; returns (nodes, edges) written."""
    out.write(_GRAPHML_HEAD)
    out.write(_graphml_keys("n", "node", NODE_ATTRIBUTES))
    out.write(_graphml_keys("e", "edge", EDGE_ATTRIBUTES))
    out.write('  <graph id="kinhub" edgedefault="directed">\n')
    nodes = edges = 0
    for node in view.nodes():
        out.write(f"    <node id={xml_attr(node.id)}>{_graphml_data('n', node.attrs)}</node>\n")
        nodes += 1
    for edge in view.edges():
        out.write(
            f'    <edge id="e{edges}" source={xml_attr(edge.child)} '
            f"target={xml_attr(edge.parent)}>{_graphml_data('e', edge.attrs)}</edge>\n"
        )
        edges += 1
    out.write("  </graph>\n</graphml>\n")
    return nodes, edges


# ------------------------------------------------------------------ GEXF

_GEXF_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "int": "integer",
    "long": "long",
    "double": "double",
}


def _gexf_attributes(scope: str, attributes: tuple[Attribute, ...]) -> str:
    rows = "".join(
        f'      <attribute id="{i}" title="{a.name}" type="{_GEXF_TYPES[a.type]}"/>\n'
        for i, a in enumerate(attributes)
    )
    return f'    <attributes class="{scope}" mode="static">\n{rows}    </attributes>\n'


def _gexf_values(ids: dict[str, int], attrs: dict[str, Scalar]) -> str:
    if not attrs:
        return ""
    values = "".join(
        f'<attvalue for="{ids[name]}" value={xml_attr(_format(value))}/>'
        for name, value in attrs.items()
    )
    return f"<attvalues>{values}</attvalues>"


def write_gexf(view: GenealogyView, out: TextIO) -> tuple[int, int]:
    """Write ``view`` as GEXF 1.2; returns (nodes, edges) written."""
    node_ids = {a.name: i for i, a in enumerate(NODE_ATTRIBUTES)}
    edge_ids = {a.name: i for i, a in enumerate(EDGE_ATTRIBUTES)}
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n'
        "  <meta><creator>kinhub</creator><description>merge genealogy, edges child to parent"
        "</description></meta>\n"
        '  <graph defaultedgetype="directed" mode="static">\n'
    )
    out.write(_gexf_attributes("node", NODE_ATTRIBUTES))
    out.write(_gexf_attributes("edge", EDGE_ATTRIBUTES))
    out.write("    <nodes>\n")
    nodes = edges = 0
    for node in view.nodes():
        out.write(
            f"      <node id={xml_attr(node.id)} label={xml_attr(node.id)}>"
            f"{_gexf_values(node_ids, node.attrs)}</node>\n"
        )
        nodes += 1
    out.write("    </nodes>\n    <edges>\n")
    for edge in view.edges():
        out.write(
            f'      <edge id="{edges}" source={xml_attr(edge.child)} '
            f"target={xml_attr(edge.parent)}>{_gexf_values(edge_ids, edge.attrs)}</edge>\n"
        )
        edges += 1
    out.write("    </edges>\n  </graph>\n</gexf>\n")
    return nodes, edges
