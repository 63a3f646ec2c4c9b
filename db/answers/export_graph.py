"""The genealogy as an export sees it: typed nodes and edges, streamed from stored rows.

Every writer (GraphML, GEXF, node-link JSON, Mermaid, DOT, HTML) reads one
:class:`GenealogyView`.  A view never loads recipe or card texts, and the view of the
whole database reads models and edges in id ranges, so exporting a million models
needs memory for one range at a time, not for the genealogy.

Attributes are flat and typed (:data:`NODE_ATTRIBUTES`, :data:`EDGE_ATTRIBUTES`): a
missing value is left out, lists become comma lists, parameter dicts JSON text — never
a Python repr, so Gephi, Cytoscape and networkx read back exactly what was written.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kinhub.db.answers import evidence
from kinhub.db.answers.edge_kinship import EdgeKinship, edge_kinship
from kinhub.db.answers.guards import require_models
from kinhub.db.answers.lineage import Direction, LineageEdge, lineage_sql
from kinhub.db.models import Edge, Evaluation, Model
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

AttrType = Literal["string", "boolean", "int", "long", "double"]
Scalar = str | bool | int | float


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttrType
    description: str


NODE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("status", "string", "crawl status: ok, pending, unresolved, not_found, gated, …"),
    Attribute("unresolved", "boolean", "a reference that is not a Hub id (never fetched)"),
    Attribute("license", "string", "license as declared on the Hub"),
    Attribute("downloads", "long", "Hub downloads (last 30 days)"),
    Attribute("likes", "long", "Hub likes"),
    Attribute("parameters", "long", "parameter count"),
    Attribute("model_type", "string", "config.json model_type"),
    Attribute("architectures", "string", "config.json architectures, comma-separated"),
    Attribute("pipeline_tag", "string", "Hub pipeline tag"),
    Attribute("gated", "string", "gating mode (auto, manual)"),
    Attribute("last_modified", "string", "last commit on the Hub, ISO 8601"),
    Attribute("eval_average", "double", "mean of the card's model-index scores"),
    Attribute("eval_count", "int", "number of model-index scores"),
    Attribute("depth", "int", "steps from the root model (subgraph exports)"),
    Attribute("direction", "string", "root, up (ancestor) or down (descendant)"),
)

EDGE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("relation", "string", "merge, moe, finetune, adapter or quantized"),
    Attribute("role", "string", "the parent's role: base, ingredient, slice, expert, parent"),
    Attribute("method", "string", "merge method of the child's recipe"),
    Attribute("sources", "string", "evidence sources, comma-separated"),
    Attribute("parameters", "string", "per-model merge parameters, JSON"),
    Attribute("revision", "string", "revision named in the reference"),
    Attribute("kinship_cs", "double", "cosine similarity of child and parent task vectors"),
    Attribute("kinship_pcc", "double", "Pearson correlation of the task vectors"),
    Attribute("kinship_ed", "double", "Euclidean distance of the task vectors"),
    Attribute("kinship_base", "string", "base the kinship was measured against"),
    Attribute("kinship_mode", "string", "exact or sampled"),
)

RELATIONS = ("merge", "moe", "finetune", "adapter", "quantized")


@dataclass(frozen=True)
class ExportNode:
    id: str
    attrs: dict[str, Scalar]


@dataclass(frozen=True)
class ExportEdge:
    child: str
    parent: str
    attrs: dict[str, Scalar]


@dataclass(frozen=True)
class Selection:
    """Which part of the genealogy to export (``model=None``: all of it)."""

    model: str | None = None
    direction: Direction = "up"
    depth: int | None = None
    relations: frozenset[str] | None = None
    min_downloads: int | None = None


@dataclass
class GenealogyView:
    """Re-iterable nodes and edges (each call of ``nodes()``/``edges()`` starts over)."""

    root: str | None
    node_count: int
    nodes: Callable[[], Iterator[ExportNode]]
    edges: Callable[[], Iterator[ExportEdge]]


def scalar(value: Any) -> Scalar | None:
    """A value as a typed attribute: None (and NaN) → None, lists → comma list, dict → JSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) if value else None
    return str(value)


def _attrs(values: dict[str, Any]) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for key, value in values.items():
        flat = scalar(value)
        if flat is not None:
            out[key] = flat
    return out


def build_view(session: Session, selection: Selection) -> GenealogyView:
    """The nodes and edges ``selection`` names; iterate them inside ``session``.

    Raises:
        EmptyDatabaseError: the database holds no models.
        ModelNotFoundError: ``selection.model`` is not in the database.
    """
    require_models(session)
    if selection.model is None:
        return _whole_view(session, selection)
    return _subgraph_view(session, selection)


# ------------------------------------------------------------------ node and edge facts

_NODE_COLUMNS = (
    col(Model.id),
    col(Model.repo_id),
    col(Model.status),
    col(Model.license),
    col(Model.downloads),
    col(Model.likes),
    col(Model.num_parameters),
    col(Model.model_type),
    col(Model.architectures),
    col(Model.pipeline_tag),
    col(Model.gated),
    col(Model.last_modified),
)


def _eval_averages(session: Session, ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            col(Evaluation.model_id),
            func.avg(col(Evaluation.value)),
            func.count(col(Evaluation.value)),
        )
        .where(col(Evaluation.model_id).in_(ids), col(Evaluation.value).is_not(None))
        .group_by(col(Evaluation.model_id))
    )
    return {model_id: (float(avg), int(n)) for model_id, avg, n in rows if n}


def _node(row: Any, evals: dict[int, tuple[float, int]], extra: dict[str, Any]) -> ExportNode:
    average, count = evals.get(row.id, (None, None))
    values = {
        "status": row.status,
        "unresolved": row.status == "unresolved",
        "license": row.license,
        "downloads": row.downloads,
        "likes": row.likes,
        "parameters": row.num_parameters,
        "model_type": row.model_type,
        "architectures": row.architectures,
        "pipeline_tag": row.pipeline_tag,
        "gated": row.gated,
        "last_modified": row.last_modified,
        "eval_average": average,
        "eval_count": count,
        **extra,
    }
    return ExportNode(id=row.repo_id, attrs=_attrs(values))


@dataclass(frozen=True)
class Evidence:
    child_id: int
    parent_id: int
    child: str
    parent: str
    relation: str
    role: str
    source: str
    parameters: dict[str, Any]
    revision: str | None


def evidence_select(child: type[Model], parent: type[Model]) -> Select[Any]:
    """Edge rows as :class:`Evidence` takes them (``Evidence(*row)``), joined to the
    child and parent models; ``child`` and ``parent`` are aliases of ``Model`` the
    caller may filter on.  Add ``where`` and ``order_by``."""
    return (
        select(
            col(Edge.child_id),
            col(Edge.parent_id),
            col(child.repo_id),
            col(parent.repo_id),
            col(Edge.relation),
            col(Edge.role),
            col(Edge.source),
            col(Edge.parameters),
            col(Edge.revision),
        )
        .join(child, col(child.id) == col(Edge.child_id))
        .join(parent, col(parent.id) == col(Edge.parent_id))
    )


def group_evidence(rows: list[Evidence]) -> list[list[Evidence]]:
    """One edge per (child, parent, relation, role), in key order; the rule of
    :func:`kinhub.db.answers.evidence.group_evidence` (shared with ``kinhub lineage``)."""
    grouped = evidence.group_evidence(rows)
    return [grouped[key] for key in sorted(grouped)]


def _edge(
    group: list[Evidence], methods: dict[int, str], kinship: dict[tuple[int, int], EdgeKinship]
) -> ExportEdge:
    first = evidence.best_evidence(group)
    method = methods.get(first.child_id) if first.relation in ("merge", "moe") else None
    found = kinship.get((first.child_id, first.parent_id))
    values: dict[str, Any] = {
        "relation": first.relation,
        # The stated role; folded metadata evidence says only "parent".
        "role": evidence.stated_role(e.role for e in group),
        "method": method,
        "sources": sorted({e.source for e in group}),
        "parameters": first.parameters,
        "revision": first.revision,
        **(found.attrs() if found else {}),
    }
    return ExportEdge(child=first.child, parent=first.parent, attrs=_attrs(values))


# ------------------------------------------------------------------ whole genealogy

_CHUNK = 2000


def _whole_view(session: Session, selection: Selection) -> GenealogyView:
    child, parent = aliased(Model), aliased(Model)
    edge_filter: list[ColumnElement[bool]] = []
    if selection.relations is not None:
        edge_filter.append(col(Edge.relation).in_(sorted(selection.relations)))
    if selection.min_downloads is not None:
        edge_filter += [
            col(child.downloads) >= selection.min_downloads,
            col(parent.downloads) >= selection.min_downloads,
        ]
    node_filter: list[ColumnElement[bool]] = []
    if selection.min_downloads is not None:
        node_filter.append(col(Model.downloads) >= selection.min_downloads)
    if selection.relations is not None:
        # Only models that a kept edge touches.
        touching = [
            exists(
                select(col(Edge.id))
                .join(child, col(child.id) == col(Edge.child_id))
                .join(parent, col(parent.id) == col(Edge.parent_id))
                .where(end == col(Model.id), *edge_filter)
            )
            for end in (col(Edge.child_id), col(Edge.parent_id))
        ]
        node_filter.append(or_(*touching))
    low, high = session.execute(select(func.min(Model.id), func.max(Model.id))).one()
    count = session.execute(
        select(func.count()).select_from(Model).where(*node_filter)
    ).scalar_one()

    def ranges() -> Iterator[tuple[int, int]]:
        for start in range(low, high + 1, _CHUNK):
            yield start, start + _CHUNK - 1

    def nodes() -> Iterator[ExportNode]:
        for lo, hi in ranges():
            rows = session.execute(
                select(*_NODE_COLUMNS)
                .where(col(Model.id).between(lo, hi), *node_filter)
                .order_by(col(Model.id))
            ).all()
            evals = _eval_averages(session, [row.id for row in rows])
            for row in rows:
                yield _node(row, evals, {})

    def edges() -> Iterator[ExportEdge]:
        for lo, hi in ranges():
            rows = session.execute(
                evidence_select(child, parent)
                .where(col(Edge.child_id).between(lo, hi), *edge_filter)
                .order_by(col(Edge.child_id), col(Edge.parent_id), col(Edge.id))
            ).all()
            if not rows:
                continue
            found = [Evidence(*row) for row in rows]
            methods = evidence.merge_methods(session, {e.child_id for e in found})
            kinship = edge_kinship(session, {(e.child_id, e.parent_id) for e in found})
            for group in group_evidence(found):
                yield _edge(group, methods, kinship)

    return GenealogyView(root=None, node_count=count, nodes=nodes, edges=edges)


# ------------------------------------------------------------------ subgraph around a model


def _walk(
    root: str, edges: list[LineageEdge], *, upward: bool, depth: int | None, keep: set[str]
) -> tuple[dict[str, int], list[LineageEdge]]:
    nxt: dict[str, list[LineageEdge]] = defaultdict(list)
    for edge in edges:
        if edge.child in keep and edge.parent in keep:
            nxt[edge.child if upward else edge.parent].append(edge)
    depths, walked, frontier, level = {root: 0}, [], [root], 0
    while frontier and (depth is None or level < depth):
        level += 1
        following = []
        for node in frontier:
            for edge in nxt.get(node, []):
                walked.append(edge)
                other = edge.parent if upward else edge.child
                if other not in depths:
                    depths[other] = level
                    following.append(other)
        frontier = following
    return depths, walked


def _subgraph_view(session: Session, selection: Selection) -> GenealogyView:
    assert selection.model is not None
    lineage = lineage_sql(
        session, selection.model, direction=selection.direction, depth=selection.depth
    )
    rows = {}
    names = [node.id for node in lineage.nodes]
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        for row in session.execute(select(*_NODE_COLUMNS).where(col(Model.repo_id).in_(chunk))):
            rows[row.repo_id] = row
    keep = {
        name
        for name, row in rows.items()
        if name == lineage.root
        or selection.min_downloads is None
        or (row.downloads or 0) >= selection.min_downloads
    }
    candidates = [
        e for e in lineage.edges if selection.relations is None or e.relation in selection.relations
    ]
    # Re-walk over what the filters keep, so nothing disconnected from the root remains.
    placed: dict[str, tuple[int, str]] = {lineage.root: (0, "root")}
    chosen: dict[tuple[str, str, str, str], LineageEdge] = {}
    for upward in {"up": (True,), "down": (False,), "both": (True, False)}[selection.direction]:
        depths, walked = _walk(
            lineage.root, candidates, upward=upward, depth=selection.depth, keep=keep
        )
        for name, d in depths.items():
            if name not in placed or d < placed[name][0]:
                placed[name] = (d, "up" if upward else "down") if d else (0, "root")
        for edge in walked:
            chosen[(edge.child, edge.parent, edge.relation, edge.role)] = edge
    ordered = sorted(placed, key=lambda name: (placed[name][0], name))
    by_id = {rows[name].id: name for name in placed}
    ids = {name: rows[name].id for name in placed}
    edge_list = [chosen[key] for key in sorted(chosen)]
    kinship = edge_kinship(session, {(ids[e.child], ids[e.parent]) for e in edge_list})
    evals = _eval_averages(session, by_id)

    def nodes() -> Iterator[ExportNode]:
        for name in ordered:
            d, direction = placed[name]
            yield _node(rows[name], evals, {"depth": d, "direction": direction})

    def edges() -> Iterator[ExportEdge]:
        for edge in edge_list:
            found = kinship.get((ids[edge.child], ids[edge.parent]))
            values: dict[str, Any] = {
                "relation": edge.relation,
                "role": edge.role,
                "method": edge.method,
                "sources": edge.sources,
                "parameters": edge.parameters,
                "revision": edge.revision,
                **(found.attrs() if found else {}),
            }
            yield ExportEdge(child=edge.child, parent=edge.parent, attrs=_attrs(values))

    return GenealogyView(root=lineage.root, node_count=len(placed), nodes=nodes, edges=edges)
