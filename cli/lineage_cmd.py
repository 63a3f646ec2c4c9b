"""``kinhub lineage``: ancestors and descendants of a model."""

from __future__ import annotations

from collections import defaultdict
from enum import StrEnum

import typer
from kinhub.cli.common import handle_errors, open_db, print_json, stdout
from kinhub.db.lineage import Direction, Lineage, LineageEdge, lineage_networkx, lineage_sql
from rich.markup import escape
from rich.tree import Tree


class LineageFormat(StrEnum):
    tree = "tree"
    json = "json"


class Engine(StrEnum):
    sql = "sql"
    networkx = "networkx"


def lineage(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id (org/name) as stored."),
    up: bool = typer.Option(False, "--up", help="Ancestors (the default)."),
    down: bool = typer.Option(False, "--down", help="Descendants."),
    both: bool = typer.Option(False, "--both", help="Ancestors and descendants."),
    depth: int | None = typer.Option(None, "--depth", min=1, help="Steps to follow (all)."),
    fmt: LineageFormat = typer.Option(LineageFormat.tree, "--format", help="tree or json."),
    engine: Engine = typer.Option(
        Engine.sql, "--engine", help="sql (recursive query) or networkx (in-memory graph)."
    ),
) -> None:
    """Show where a model came from (--up) or what was made from it (--down).

    JSON: {"root", "nodes": [{"id", "depth", "unresolved", ...facts}],
    "edges": [{"child", "parent", "relation", "role", "method", "sources", ...}]}.
    """
    if sum((up, down, both)) > 1:
        raise typer.BadParameter("give at most one of --up, --down, --both")
    direction: Direction = "both" if both else "down" if down else "up"
    with handle_errors():
        database = open_db(ctx)
        with database.session() as session:
            walk = lineage_sql if engine is Engine.sql else lineage_networkx
            result = walk(session, model, direction=direction, depth=depth)
        database.dispose()
    if fmt is LineageFormat.json:
        print_json(result.to_json())
        return
    for upward in (True, False) if direction == "both" else (direction == "up",):
        stdout.print(lineage_tree(result, upward=upward), soft_wrap=False)


def _label(edge: LineageEdge | None, node: str, unresolved: set[str]) -> str:
    text = f"[bold]{escape(node)}[/bold]"
    if node in unresolved:
        text += " [yellow](unresolved)[/yellow]"
    if edge is None:
        return text
    how = f"{edge.relation}/{edge.role}" + (f" via {edge.method}" if edge.method else "")
    return f"{text}  [dim]{escape(how)} {escape('[' + ', '.join(edge.sources) + ']')}[/dim]"


def lineage_tree(result: Lineage, *, upward: bool) -> Tree:
    nxt: dict[str, list[LineageEdge]] = defaultdict(list)
    for edge in result.edges:
        nxt[edge.child if upward else edge.parent].append(edge)
    unresolved = {n.id for n in result.nodes if n.unresolved}
    title = "ancestors" if upward else "descendants"
    root = Tree(f"{_label(None, result.root, unresolved)} [dim]({title})[/dim]")
    shown = {result.root}

    # Pre-order, so a node is expanded where it first appears on screen and
    # marked at every later appearance (cycles and shared ancestors).
    def visit(branch: Tree, node: str) -> None:
        for edge in nxt.get(node, []):
            other = edge.parent if upward else edge.child
            label = _label(edge, other, unresolved)
            if other in shown:
                branch.add(f"{label} [dim]↺ shown above[/dim]")
                continue
            shown.add(other)
            visit(branch.add(label), other)

    visit(root, result.root)
    return root


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage)
