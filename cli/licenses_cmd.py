"""``kinhub licenses``: audit the licenses of a model's genealogy."""

from __future__ import annotations

from typing import Annotated

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    OutputFormat,
    database_of,
    flag,
    handle_errors,
    print_json,
    stderr,
    stdout,
)
from kinhub.cli.render import cell as text
from kinhub.cli.render import safe
from rich.table import Table
from rich.text import Text

LICENSES_HELP = """\
Audit a genealogy's licenses: every ancestor's license and class, and a warning when
the model's license is more permissive than an ancestor's (a commercial-use license
on a merge of a cc-by-nc, Llama/Gemma-style or research-only model) or when an
ancestor's license is unknown. Classes: permissive > copyleft > restricted >
noncommercial > no-derivatives, plus other and unknown (see docs/export.md).
This reads metadata; it is not legal advice.

JSON: `{"id", "license", "class", "ancestors": [{"id", "depth", "license", "class",
"status"}], "warnings": [{"kind", "model", "message"}]}`.
"""


def licenses(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id (org/name) as stored.")],
    fmt: FormatOpt = OutputFormat.table,
    strict: Annotated[
        bool, flag("--strict", help="Exit with status 2 when there are warnings.")
    ] = False,
) -> None:
    from kinhub.db.answers.licenses import audit_licenses

    with handle_errors(), database_of(ctx) as database, database.session() as session:
        audit = audit_licenses(session, model)
    if fmt is OutputFormat.json:
        print_json(audit.to_json())
    else:
        doc = audit.to_json()
        stdout.print(Text(safe(f"{doc['id']}: {doc['license']} ({doc['class']})"), style="bold"))
        table = Table(show_edge=False)
        for column in ("ancestor", "depth", "license", "class"):
            table.add_column(column)
        for a in doc["ancestors"]:
            table.add_row(text(a["id"]), text(a["depth"]), text(a["license"]), text(a["class"]))
        stdout.print(table)
        for warning in audit.warnings:
            stderr.print(Text(f"warning: {safe(warning.message)}", style="yellow"))
    if strict and audit.warnings:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command(
        "licenses", help=LICENSES_HELP, short_help="License audit of a genealogy.", cls=Command
    )(licenses)
