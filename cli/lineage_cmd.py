"""``kinhub lineage``: ancestors and descendants of a model."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from kinhub.cli.common import Command, database_of, flag, handle_errors, print_json, stdout
from kinhub.cli.render import lineage_tree

if TYPE_CHECKING:
    from kinhub.db.answers.lineage import Direction


class LineageFormat(StrEnum):
    tree = "tree"
    json = "json"


class Engine(StrEnum):
    sql = "sql"
    networkx = "networkx"


LINEAGE_HELP = """\
Show where a model came from (`--up`, the default) or what was made from it
(`--down`), or both (`--both`).

JSON: `{"root", "nodes": [{"id", "depth", "direction", "unresolved", ...facts}],
"edges": [{"child", "parent", "direction", "relation", "role", "method", "sources",
...}]}`. `direction` is `up` for ancestors, `down` for descendants and `root` for
the model asked about (`both` only where bad data makes a model its own ancestor).
A merge edge's `kinship` is the stored kinship of child and parent,
`{"cs", "pcc", "ed", "base", "mode"}` (null when none is stored); the tree shows it
after the edge.  Each edge's `weight_check` says whether the weights agree with it:
`{"verdict": "consistent" | "contradicted" | "unverified", "score", "threshold",
"base", "evidence": {"rule", "similarity", "coefficient", ...}}` (`reason` when
unverified: no sketches yet, or a relation the check does not apply to); the tree
marks consistent edges `✓ weights` and contradicted ones `✗ weights contradict`.
Checks are made by `kinhub sketch` from the stored sketches (docs/kinship.md).
"""


def lineage(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id (org/name) as stored.")],
    up: Annotated[bool, flag("--up", help="Ancestors (the default).")] = False,
    down: Annotated[bool, flag("--down", help="Descendants.")] = False,
    both: Annotated[bool, flag("--both", help="Ancestors and descendants.")] = False,
    depth: Annotated[
        int | None,
        typer.Option("--depth", min=1, metavar="N", help="Steps to follow (default: all)."),
    ] = None,
    fmt: Annotated[
        LineageFormat,
        typer.Option("--format", help="`tree` for people, `json` (one document) for machines."),
    ] = LineageFormat.tree,
    engine: Annotated[
        Engine,
        typer.Option("--engine", help="`sql` (recursive query) or `networkx` (in-memory graph)."),
    ] = Engine.sql,
) -> None:
    if sum((up, down, both)) > 1:
        raise typer.BadParameter("give at most one of --up, --down, --both")
    direction: Direction = "both" if both else "down" if down else "up"
    from kinhub.db.answers.lineage import lineage_networkx, lineage_sql

    walk = lineage_sql if engine is Engine.sql else lineage_networkx
    # A Core connection: the walks run Core queries, and the ORM's import cost is
    # most of this command's start-up.
    with handle_errors(), database_of(ctx) as database, database.connection() as conn:
        result = walk(conn, model, direction=direction, depth=depth)
    if fmt is LineageFormat.json:
        print_json(result.to_json())
        return
    for upward in (True, False) if direction == "both" else (direction == "up",):
        stdout.print(lineage_tree(result, upward=upward), soft_wrap=False)


def register(app: typer.Typer) -> None:
    app.command(
        "lineage",
        help=LINEAGE_HELP,
        short_help="Ancestors and descendants of a model.",
        cls=Command,
    )(lineage)
