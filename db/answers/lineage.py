"""Lineage walks over the genealogy: a networkx view and a recursive SQL query.

Both answer the same question — which models lie within ``depth`` steps of a
root, upwards (parents), downwards (children) or both — with the same result
type, so small databases can use the in-memory graph and large ones the
database's own recursion.  Cycles (bad data) terminate in both: networkx by
visiting each node once, SQL by bounding the recursion depth.

An edge is in the result when its near end was reached at a depth below the
limit; ``both`` is the union of the upward and the downward walk (ancestors and
descendants, not siblings).  Every node and edge says which walk reached it
(``direction``: ``up``, ``down``, ``root`` for the root itself, ``both`` only
where a cycle makes a model its own ancestor), so ancestors and descendants at
the same depth can be told apart.

Both take a Core ``Connection`` or an ORM ``Session`` and run Core queries only
(:mod:`kinhub.db.core_tables`), so ``kinhub lineage`` starts without importing
the ORM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kinhub.db.answers.edge_kinship import EdgeKinship, edge_kinship
from kinhub.db.answers.evidence import best_evidence, group_evidence, merge_methods
from kinhub.db.core_tables import edge, model, require_model_id
from kinhub.db.weight_checks import UNCHECKED, check_json, checks_for, not_applicable
from sqlalchemy import func, literal, select

if TYPE_CHECKING:
    import networkx as nx
    from kinhub.db.core_tables import Reader
    from sqlalchemy.engine import Row

Direction = Literal["up", "down", "both"]

UNCOUNTED_DEPTH = 10_000
"""Depths up to this bound the SQL walk as given; a larger one is capped at the
number of models (no simple path is longer), so it never overflows the database."""
Reached = Literal["up", "down", "both", "root"]

_NODE_FACTS = (
    "sha",
    "status",
    "model_type",
    "architectures",
    "num_parameters",
    "license",
    "downloads",
    "likes",
    "gated",
    "last_modified",
)


@dataclass(frozen=True)
class LineageEdge:
    child: str
    parent: str
    relation: str
    role: str
    method: str | None
    sources: list[str]
    parameters: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    direction: Reached = "up"
    # Merge edges: the stored kinship of (child, parent), see db.edge_kinship; else None.
    kinship: dict[str, Any] | None = None
    # Whether the weights agree with the edge (db.weight_checks): verdict and evidence.
    weight_check: dict[str, Any] = field(default_factory=lambda: dict(UNCHECKED))


@dataclass(frozen=True)
class LineageNode:
    id: str
    depth: int
    unresolved: bool
    facts: dict[str, Any]
    direction: Reached = "up"


@dataclass(frozen=True)
class Lineage:
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": [
                {
                    "id": n.id,
                    "depth": n.depth,
                    "direction": n.direction,
                    "unresolved": n.unresolved,
                    **n.facts,
                }
                for n in self.nodes
            ],
            "edges": [
                {
                    "child": e.child,
                    "parent": e.parent,
                    "direction": e.direction,
                    "relation": e.relation,
                    "role": e.role,
                    "method": e.method,
                    "sources": e.sources,
                    "parameters": e.parameters,
                    "revision": e.revision,
                    "kinship": e.kinship,
                    "weight_check": e.weight_check,
                }
                for e in self.edges
            ],
        }


# ---------------------------------------------------------------- networkx view


def genealogy_graph(session: Reader) -> nx.MultiDiGraph:
    """The whole genealogy as a MultiDiGraph: node = model id, edge child → parent."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    for model_id, repo_id, status in session.execute(
        select(model.c.id, model.c.repo_id, model.c.status)
    ):
        graph.add_node(model_id, repo_id=repo_id, status=status)
    for edge_id, child, parent in session.execute(
        select(edge.c.id, edge.c.child_id, edge.c.parent_id)
    ):
        graph.add_edge(child, parent, key=edge_id)
    return graph


def _bfs(graph: nx.MultiDiGraph, root: int, *, upward: bool, depth: int | None) -> dict[int, int]:
    neighbours = graph.successors if upward else graph.predecessors
    depths = {root: 0}
    frontier = [root]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt = []
        for node in frontier:
            for other in neighbours(node):
                if other not in depths:
                    depths[other] = level
                    nxt.append(other)
        frontier = nxt
    return depths


def _graph_edge_ids(
    graph: nx.MultiDiGraph, depths: dict[int, int], *, upward: bool, depth: int | None
) -> set[int]:
    found: set[int] = set()
    for node, d in depths.items():
        if depth is not None and d >= depth:
            continue
        edges = graph.out_edges(node, keys=True) if upward else graph.in_edges(node, keys=True)
        found.update(key for _u, _v, key in edges)
    return found


def lineage_networkx(
    session: Reader,
    root: str,
    *,
    direction: Direction = "up",
    depth: int | None = None,
    graph: nx.MultiDiGraph | None = None,
) -> Lineage:
    """Lineage of ``root`` computed on the networkx view (built if not given).

    Raises:
        ModelNotFoundError: ``root`` is not in the database.
    """
    root_id = require_model_id(session, root)
    graph = graph if graph is not None else genealogy_graph(session)
    walks = _Walks(root_id)
    for upward in _directions(direction):
        walked = _bfs(graph, root_id, upward=upward, depth=depth)
        walks.add(walked, _graph_edge_ids(graph, walked, upward=upward, depth=depth), upward=upward)
    return _assemble(session, root, walks)


# ---------------------------------------------------------------- recursive SQL


def _sql_walk(
    session: Reader, root_id: int, *, upward: bool, depth: int | None
) -> tuple[dict[int, int], set[int]]:
    # A simple path never needs more steps than there are models, which bounds
    # the recursion even through cycles (UNION drops repeated (id, depth) rows), and
    # makes any larger depth (--depth 10**20, beyond a 64-bit integer) mean "all".
    # (Counting is skipped when a small depth bounds the walk: on PostgreSQL,
    # count(*) of a million models alone takes longer than the whole walk.)
    if depth is not None and depth <= UNCOUNTED_DEPTH:
        limit = depth
    else:
        count = session.execute(select(func.count()).select_from(model)).scalar_one()
        limit = count if depth is None else min(depth, count)
    near, far = (
        (edge.c.child_id, edge.c.parent_id) if upward else (edge.c.parent_id, edge.c.child_id)
    )
    base = select(literal(root_id).label("id"), literal(0).label("depth"))
    walk = base.cte("walk", recursive=True)
    step = (
        select(far.label("id"), (walk.c.depth + 1).label("depth"))
        .join(walk, near == walk.c.id)
        .where(walk.c.depth < limit)
    )
    walk = walk.union(step)
    rows = session.execute(select(walk.c.id, func.min(walk.c.depth)).group_by(walk.c.id))
    depths = {node: d for node, d in rows}
    within = select(walk.c.id).where(walk.c.depth < limit).scalar_subquery()
    edge_rows = session.execute(select(edge.c.id).where(near.in_(within)))
    return depths, {edge_id for (edge_id,) in edge_rows}


def lineage_sql(
    session: Reader, root: str, *, direction: Direction = "up", depth: int | None = None
) -> Lineage:
    """Lineage of ``root`` computed by a recursive SQL query in the database.

    Raises:
        ModelNotFoundError: ``root`` is not in the database.
    """
    root_id = require_model_id(session, root)
    walks = _Walks(root_id)
    for upward in _directions(direction):
        walked, edges = _sql_walk(session, root_id, upward=upward, depth=depth)
        walks.add(walked, edges, upward=upward)
    return _assemble(session, root, walks)


# ---------------------------------------------------------------- shared


def _directions(direction: Direction) -> tuple[bool, ...]:
    return {"up": (True,), "down": (False,), "both": (True, False)}[direction]


class _Walks:
    """The union of the upward and downward walks: each node's smallest depth, and
    which walks reached each node and edge."""

    def __init__(self, root_id: int) -> None:
        self.root_id = root_id
        self.depths: dict[int, int] = {}
        self.node_ways: dict[int, set[str]] = defaultdict(set)
        self.edge_ways: dict[int, set[str]] = defaultdict(set)

    def add(self, depths: dict[int, int], edge_ids: set[int], *, upward: bool) -> None:
        way = "up" if upward else "down"
        for node, d in depths.items():
            self.depths[node] = min(d, self.depths.get(node, d))
            self.node_ways[node].add(way)
        for edge_id in edge_ids:
            self.edge_ways[edge_id].add(way)

    def node_direction(self, node: int) -> Reached:
        return "root" if node == self.root_id else _one_way(self.node_ways[node])

    def edge_direction(self, edge_ids: Iterable[int]) -> Reached:
        return _one_way(set().union(*(self.edge_ways[e] for e in edge_ids)))


def _one_way(ways: set[str]) -> Reached:
    return "both" if len(ways) > 1 else "down" if ways == {"down"} else "up"


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _assemble(session: Reader, root: str, walks: _Walks) -> Lineage:
    depths, edge_ids = walks.depths, set(walks.edge_ways)
    models: dict[int, Row[Any]] = {}
    for chunk in _chunks(sorted(depths)):
        for row in session.execute(select(model).where(model.c.id.in_(chunk))):
            models[row.id] = row
    edges: list[Row[Any]] = []
    for chunk in _chunks(sorted(edge_ids)):
        edges.extend(session.execute(select(edge).where(edge.c.id.in_(chunk)).order_by(edge.c.id)))
    methods = merge_methods(session, {e.child_id for e in edges})
    measured = edge_kinship(
        session, {(e.child_id, e.parent_id) for e in edges if e.relation in ("merge", "moe")}
    )
    checks = checks_for(session, {(e.child_id, e.parent_id) for e in edges})

    lineage_edges = []
    for (child, parent, relation, role), group in sorted(
        group_evidence(edges).items(),
        key=lambda item: (models[item[0][0]].repo_id, models[item[0][1]].repo_id, item[0][3]),
    ):
        first = best_evidence(group)
        lineage_edges.append(
            LineageEdge(
                child=models[child].repo_id,
                parent=models[parent].repo_id,
                relation=relation,
                role=role,
                method=methods.get(child) if relation in ("merge", "moe") else None,
                sources=sorted({e.source for e in group}),
                parameters=first.parameters,
                revision=first.revision,
                direction=walks.edge_direction(e.id for e in group if e.id is not None),
                kinship=_kinship_json(measured, child, parent, relation),
                weight_check=_check_json(checks, child, parent, relation, role),
            )
        )
    nodes = [
        LineageNode(
            id=models[node].repo_id,
            depth=d,
            unresolved=models[node].status == "unresolved",
            facts={key: getattr(models[node], key) for key in _NODE_FACTS},
            direction=walks.node_direction(node),
        )
        for node, d in sorted(depths.items(), key=lambda item: (item[1], models[item[0]].repo_id))
    ]
    return Lineage(root=root, nodes=nodes, edges=lineage_edges)


def _kinship_json(
    measured: dict[tuple[int, int], EdgeKinship], child: int, parent: int, relation: str
) -> dict[str, Any] | None:
    found = measured.get((child, parent)) if relation in ("merge", "moe") else None
    return found.to_json() if found is not None else None


def _check_json(
    checks: dict[tuple[int, int], Any], child: int, parent: int, relation: str, role: str
) -> dict[str, Any]:
    reason = not_applicable(relation, role)
    if reason is not None:
        return {"verdict": "unverified", "reason": reason}
    found = checks.get((child, parent))
    return check_json(found) if found is not None else dict(UNCHECKED)
