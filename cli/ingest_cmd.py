"""``kinhub ingest``: record a local model folder (a mergekit output) with its edges."""

from __future__ import annotations

from pathlib import Path

import typer
from kinhub.cli.common import OutputFormat, handle_errors, open_db, print_json, stderr, stdout
from kinhub.crawler.ingest import read_local_model
from kinhub.db.store import upsert_model
from rich.markup import escape


def ingest(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Model folder: README.md, mergekit_config.yml, ..."),
    repo_id: str = typer.Option(..., "--repo-id", help="The org/name to record it as."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Record a local model folder as a model with its edges (idempotent)."""
    with handle_errors():
        local = read_local_model(folder, repo_id=repo_id)
        record = local.record
        database = open_db(ctx)
        with database.session() as session:
            outcome = upsert_model(session, record)
        database.dispose()
    parents = sorted({e.parent for e in record.edges})
    summary = {
        "repo_id": record.repo_id,
        "sha": record.sha,
        "outcome": outcome.value,
        "edges": len(record.edges),
        "parents": parents,
        "warnings": local.warnings,
    }
    if fmt is OutputFormat.json:
        print_json(summary)
    else:
        stdout.print(
            f"{record.repo_id} ({outcome.value}): {len(record.edges)} edges to "
            f"{len(parents)} parents",
            highlight=False,
        )
        for warning in local.warnings:
            stderr.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
