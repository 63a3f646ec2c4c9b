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
from kinhub.cli.render import MISSING, cell, esc
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


# The counts a run's table row shows, with their short labels (the rest: --format json).
_COUNT_LABELS = {
    "models_seen": "seen",
    "new": "new",
    "changed": "changed",
    "unchanged": "unchanged",
    "edges_added": "edges",
    "jobs_queued": "jobs",
    "files_downloaded": "files",
    "done": "done",
    "failed": "failed",
}


def _counts_text(counts: dict[str, Any]) -> str:
    """``15 seen, 15 new, 0 changed, 1 error``: a run's counts in words that wrap."""
    shown = [f"{counts[key]} {label}" for key, label in _COUNT_LABELS.items() if key in counts]
    errors = counts.get("errors")
    if errors:
        total = sum(errors.values()) if isinstance(errors, dict) else errors
        shown.append(f"{total} error{'' if total == 1 else 's'}")
    if not shown:  # a kind of run this table does not know: its keys as they are
        shown = [f"{key} {value}" for key, value in counts.items() if not isinstance(value, dict)]
    return ", ".join(shown) or MISSING


def _when(run: Any) -> str:
    """``2026-12-06 02:55 UTC``: a run's start to the minute."""
    return run.started_at.strftime("%Y-%m-%d %H:%M") if run.started_at else MISSING


def _took(run: Any) -> str:
    """``12.3s``, ``4m05s``, ``1h02m``; ``—`` while running."""
    if not (run.started_at and run.finished_at):
        return MISSING
    seconds = max(0.0, (run.finished_at - run.started_at).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


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

    The table shows each run (kind and scope), its start (UTC, to the minute),
    duration, counts and error; JSON has the exact times and every count.

    JSON: `[{"id", "kind", "scope", "status", "started", "finished", "counts", "error"}]`.
    """
    from kinhub.db.crawl_state import recent_runs

    with handle_errors(), database_of(ctx) as database, database.session() as session:
        runs_found = recent_runs(session, kind=kind, limit=limit)
        rows = [_run_row(run) for run in runs_found]
        cells = [
            (
                str(run.id),
                f"{run.kind} {run.scope}",
                run.status,
                _when(run),
                _took(run),
                _counts_text(run.counts or {}),
                run.error,
            )
            for run in runs_found
        ]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    # Readable at 80 columns: the start to the minute (UTC), the duration, the counts
    # in words that wrap; the exact times and every count are in --format json.
    table = Table(show_edge=False)
    for column in ("id", "run", "status", "started (UTC)", "took"):
        table.add_column(column)
    table.add_column("counts")
    table.add_column("error")
    for row in cells:
        table.add_row(*(cell(value) for value in row))
    stdout.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
