"""``kinhub db``: database maintenance (location, migrations, re-parse, run history)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    Group,
    OutputFormat,
    database_of,
    flag,
    handle_errors,
    print_json,
    state,
    stdout,
)
from kinhub.cli.render import esc
from rich.table import Table

db_app = typer.Typer(
    help="Database maintenance: location, migrations, re-parse, run history.",
    cls=Group,
    no_args_is_help=True,
)


def _print_pairs(values: dict[str, Any]) -> None:
    table = Table(show_header=False, show_edge=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(esc(key), esc("" if value is None else str(value)))
    stdout.print(table)


def _render(values: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(values)
    else:
        _print_pairs(values)


def _info(url: str | None, *, migrate: bool) -> dict[str, Any]:
    from kinhub.db.config import default_database_url
    from kinhub.db.engine import current_revision, head_revision, open_database, safe_url

    resolved = url or default_database_url()
    database = open_database(resolved, migrate=migrate)
    try:
        revision = current_revision(database.engine)
        backend = database.dialect
    finally:
        database.dispose()
    head = head_revision()
    return {
        "database": safe_url(resolved),
        "backend": backend,
        "revision": revision,
        "head": head,
        "up_to_date": revision == head,
    }


@db_app.command("upgrade", cls=Command)
def upgrade(ctx: typer.Context, fmt: FormatOpt = OutputFormat.table) -> None:
    """Apply pending migrations (opening a database does this too).

    JSON: `{"database", "backend", "revision", "head", "up_to_date"}`.
    """
    with handle_errors():
        result = _info(state(ctx).db_url, migrate=True)
    _render(result, fmt)


@db_app.command("info", cls=Command)
def info(ctx: typer.Context, fmt: FormatOpt = OutputFormat.table) -> None:
    """Show which database is used and its migration revision (migrates nothing).

    JSON: `{"database", "backend", "revision", "head", "up_to_date"}`.
    """
    with handle_errors():
        result = _info(state(ctx).db_url, migrate=False)
    _render(result, fmt)


@db_app.command("reparse", cls=Command)
def reparse(
    ctx: typer.Context,
    all_models: Annotated[
        bool,
        flag("--all", help="Re-parse every model with stored texts, not only older ones."),
    ] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Re-read stored cards and merge configs with the current parser; no Hub access.

    Models parsed by an older parser version (every model with `--all`) get their
    edges, recipes and evaluations rewritten where the result differs; running it
    again changes nothing. Models stored without their texts need a re-crawl.

    JSON: `{"parser_version", "all", "examined", "changed", "unchanged", "skipped",
    "without_texts", "changed_models", "jobs_queued", "seconds"}`; `jobs_queued`
    counts the kinship jobs the rewritten edges call for.
    """
    from kinhub.pipeline.reparse import run_reparse

    with handle_errors(), database_of(ctx) as database:
        report = run_reparse(database, all_models=all_models)
    _render(report.to_dict(), fmt)


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "scope": run.scope,
        "status": run.status,
        "started": run.started_at.isoformat() if run.started_at else None,
        "finished": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts,
        "error": run.error,
    }


def _counts_text(counts: dict[str, Any]) -> str:
    keys = (
        "models_seen",
        "new",
        "changed",
        "unchanged",
        "edges_added",
        "jobs_queued",
        "files_downloaded",
    )
    shown = [f"{key}={counts[key]}" for key in keys if key in counts]
    errors = counts.get("errors")
    if errors:
        shown.append(f"errors={sum(errors.values()) if isinstance(errors, dict) else errors}")
    return " ".join(shown) if shown else ", ".join(f"{k}={v}" for k, v in counts.items())


@db_app.command("runs", cls=Command)
def runs(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="How many runs, newest first.")
    ] = 20,
    kind: Annotated[
        str | None,
        typer.Option("--kind", metavar="KIND", help="Only runs of this kind (crawl, schedule)."),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List recent crawl and scheduled runs, newest first.

    JSON: `[{"id", "kind", "scope", "status", "started", "finished", "counts", "error"}]`.
    """
    from kinhub.db.crawl_state import recent_runs

    with handle_errors(), database_of(ctx) as database, database.session() as session:
        rows = [_run_row(run) for run in recent_runs(session, kind=kind, limit=limit)]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    table = Table(show_edge=False)
    for column in ("id", "kind", "scope", "status", "started", "finished", "counts", "error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(
                esc("" if row[key] is None else str(row[key]))
                for key in ("id", "kind", "scope", "status", "started", "finished")
            ),
            esc(_counts_text(row["counts"] or {})),
            esc(row["error"] or ""),
        )
    stdout.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
