"""``export_genealogy``: select part of the genealogy, check the format can hold it, write it.

Formats meant for files (GraphML, GEXF, node-link JSON, DOT) stream any size; formats
meant for reading (an HTML page, a Mermaid block in a model card) refuse beyond a node
limit with an :class:`ExportTooLargeError` that says what to do instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TextIO

from kinhub.db.answers.export_graph import GenealogyView, Selection, build_view
from kinhub.db.errors import KinhubError
from kinhub.export.formats import ExportFormat
from kinhub.export.html import HTML_MAX_NODES, render_html
from kinhub.export.text_formats import (
    MERMAID_MAX_TEXT,
    render_mermaid,
    write_dot,
    write_node_link,
)
from kinhub.export.xml_formats import write_gexf, write_graphml
from sqlmodel import Session

logger = logging.getLogger(__name__)


MERMAID_MAX_NODES = 300
# Default node limits of the formats people read; file formats have none.
DEFAULT_MAX_NODES: dict[ExportFormat, int] = {
    ExportFormat.html: HTML_MAX_NODES,
    ExportFormat.mermaid: MERMAID_MAX_NODES,
}


class ExportTooLargeError(KinhubError):
    """The selected genealogy is too large for the chosen format."""

    def __init__(self, *, fmt: str, nodes: int, limit: int, root: str | None) -> None:
        self.format, self.nodes, self.limit, self.root = fmt, nodes, limit, root
        what = f"the subgraph around {root!r}" if root else "the whole genealogy"
        narrow = (
            "narrow it with --depth, --relation or --min-downloads"
            if root
            else "export the subgraph around one model (kinhub export MODEL --depth 2 "
            f"--format {fmt})"
        )
        super().__init__(
            f"{what} has {nodes:,} models, more than a {fmt} export can show ({limit:,}): "
            f"{narrow}, or write GraphML or GEXF for Gephi or Cytoscape (--format graphml)"
        )


@dataclass(frozen=True)
class ExportSummary:
    format: str
    root: str | None
    nodes: int
    edges: int


def export_genealogy(
    session: Session,
    *,
    selection: Selection,
    fmt: ExportFormat,
    out: TextIO,
    max_nodes: int | None = None,
    title: str | None = None,
) -> ExportSummary:
    """Write the genealogy ``selection`` names to ``out`` in format ``fmt``.

    ``max_nodes`` overrides the format's default limit (HTML 2,000, Mermaid 300; no
    limit for GraphML, GEXF, JSON and DOT).  Nothing is written when a check fails.

    Raises:
        EmptyDatabaseError: the database holds no models.
        ModelNotFoundError: ``selection.model`` is not in the database.
        ExportTooLargeError: more models than the limit.
    """
    view = build_view(session, selection)
    limit = max_nodes if max_nodes is not None else DEFAULT_MAX_NODES.get(fmt)
    if limit is not None and view.node_count > limit:
        raise ExportTooLargeError(fmt=fmt.value, nodes=view.node_count, limit=limit, root=view.root)
    nodes, edges = _write(session, view, fmt=fmt, out=out, title=title)
    logger.info("exported %d models and %d edges as %s", nodes, edges, fmt.value)
    return ExportSummary(format=fmt.value, root=view.root, nodes=nodes, edges=edges)


def _write(
    session: Session, view: GenealogyView, *, fmt: ExportFormat, out: TextIO, title: str | None
) -> tuple[int, int]:
    if fmt is ExportFormat.graphml:
        return write_graphml(view, out)
    if fmt is ExportFormat.gexf:
        return write_gexf(view, out)
    if fmt is ExportFormat.json:
        return write_node_link(view, out)
    if fmt is ExportFormat.dot:
        return write_dot(view, out)
    if fmt is ExportFormat.mermaid:
        text, nodes, edges = render_mermaid(view)
        if len(text) > MERMAID_MAX_TEXT:
            raise ExportTooLargeError(
                fmt=fmt.value,
                nodes=nodes,
                limit=max(1, nodes * MERMAID_MAX_TEXT // len(text)),
                root=view.root,
            )
        out.write(text)
        return nodes, edges
    page_title = title or (f"kinhub: {view.root}" if view.root else "kinhub genealogy")
    page, nodes, edges = render_html(session, view, title=page_title)
    out.write(page)
    return nodes, edges
