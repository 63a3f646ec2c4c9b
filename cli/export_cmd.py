"""``kinhub export``: the genealogy (or the subgraph around a model) as a file."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from kinhub.cli.common import Command, database_of, flag, handle_errors, one_of, stderr
from kinhub.cli.paths import check_output_file
from kinhub.cli.render import esc as escape  # terminal-safe and markup-escaped
from kinhub.db.errors import KinhubError
from kinhub.db.records import Relation
from kinhub.export.formats import ExportFormat

if TYPE_CHECKING:
    from kinhub.db.answers.export_graph import Selection
    from kinhub.db.answers.lineage import Direction
    from kinhub.export.service import ExportSummary
    from sqlmodel import Session

RELATIONS: tuple[str, ...] = get_args(Relation)


class ExportPathError(KinhubError):
    """The output file cannot be written where it was asked for."""


EXPORT_HELP = """\
Export the merge genealogy (or the subgraph around MODEL) for Gephi and Cytoscape
(`graphml`, `gexf`), scripts (`json`, networkx node-link), model cards (`mermaid`),
Graphviz (`dot`) or a browser (`html`, one self-contained page that works offline).

Edges carry relation, role, merge method, evidence sources and kinship (`cs`, `pcc`,
`ed`, base, mode) where measured; nodes carry license, downloads, likes, parameters,
status and the evaluation average. GraphML, GEXF and JSON edges go child → parent;
Mermaid, DOT and HTML draw parents above the models made from them. HTML and Mermaid
refuse more than 2,000 and 300 models (`--max-nodes` changes the limit).
"""


def parse_relations(value: str | None) -> frozenset[str] | None:
    """``merge,moe`` → {"merge", "moe"}; unknown names are a usage error."""
    if value is None:
        return None
    names = {part.strip() for part in value.split(",") if part.strip()}
    unknown = sorted(names - set(RELATIONS))
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown relation {', '.join(unknown) or repr(value)}; "
            f"choose from {', '.join(RELATIONS)}",
            param_hint="--relation",
        )
    return frozenset(names)


def export(
    ctx: typer.Context,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help=f"{one_of(ExportFormat)}.",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODEL]",
            help="The model (org/name) to export around; default: the whole genealogy.",
            show_default=False,
        ),
    ] = None,
    up: Annotated[bool, flag("--up", help="Ancestors of MODEL (the default).")] = False,
    down: Annotated[bool, flag("--down", help="Descendants of MODEL.")] = False,
    both: Annotated[bool, flag("--both", help="Ancestors and descendants of MODEL.")] = False,
    depth: Annotated[
        int | None,
        typer.Option("--depth", min=1, metavar="N", help="Steps from MODEL (default: all)."),
    ] = None,
    relation: Annotated[
        str | None,
        typer.Option(
            "--relation",
            metavar="LIST",
            help=f"Only these relations, comma-separated: {', '.join(RELATIONS)}.",
        ),
    ] = None,
    min_downloads: Annotated[
        int | None,
        typer.Option(
            "--min-downloads", min=0, metavar="N", help="Only models with at least N downloads."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write to FILE (default: stdout)."),
    ] = None,
    max_nodes: Annotated[
        int | None,
        typer.Option("--max-nodes", min=1, metavar="N", help="Refuse more than N models."),
    ] = None,
) -> None:
    from kinhub.db.answers.export_graph import Selection
    from kinhub.export.service import export_genealogy

    if sum((up, down, both)) > 1:
        raise typer.BadParameter("give at most one of --up, --down, --both")
    if model is None and (up or down or both or depth is not None):
        raise typer.BadParameter("--up, --down, --both and --depth need a MODEL")
    direction: Direction = "both" if both else "down" if down else "up"
    selection = Selection(
        model=model,
        direction=direction,
        depth=depth,
        relations=parse_relations(relation),
        min_downloads=min_downloads,
    )
    with handle_errors():
        if output is not None:  # before the database is read
            check_output_file(output, option="-o")
    with handle_errors(), database_of(ctx) as database, database.session() as session:
        if output is None:
            summary = export_genealogy(
                session,
                selection=selection,
                fmt=fmt,
                out=sys.stdout,
                max_nodes=max_nodes,
            )
            sys.stdout.flush()
            return
        summary = _to_file(session, output, selection, fmt, max_nodes)
    stderr.print(
        f"wrote {summary.nodes:,} models and {summary.edges:,} edges to "
        f"{escape(str(output))} ({summary.format})",
        highlight=False,
    )


def _to_file(
    session: Session,
    output: Path,
    selection: Selection,
    fmt: ExportFormat,
    max_nodes: int | None,
) -> ExportSummary:
    from kinhub.export.service import export_genealogy

    # Write beside the target and rename, so a failed export never leaves half a file.
    # The temporary file is made with mode 0666 less the umask (mkstemp's 0600 would
    # survive the rename): the file the user asked for gets the mode any file they make gets.
    target = output.expanduser()  # checked by check_output_file before the work
    try:
        handle, tmp = _create_beside(target)
    except OSError as exc:
        raise ExportPathError(f"cannot write {str(output)!r}: {exc.strerror}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            summary = export_genealogy(
                session, selection=selection, fmt=fmt, out=out, max_nodes=max_nodes
            )
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportPathError(f"cannot write {str(output)!r}: {exc.strerror}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return summary


def _create_beside(target: Path) -> tuple[int, str]:
    """A new, empty file next to ``target`` (mode 0666 & ~umask): its descriptor and path."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")  # pragma: no cover


def register(app: typer.Typer) -> None:
    app.command(
        "export",
        help=EXPORT_HELP,
        short_help="Genealogy as GraphML, GEXF, JSON, Mermaid, DOT or an HTML page.",
        cls=Command,
    )(export)
