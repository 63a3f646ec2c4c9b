"""``kinhub jobs``: the kinship job queue — jobs, the workers holding leases, failures;
``kinhub jobs retry`` requeues."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

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
    stdout,
)
from kinhub.cli.render import esc as escape  # terminal-safe and markup-escaped
from kinhub.db.jobs.names import JobKind, JobStatus
from kinhub.db.timeutil import to_utc, utcnow
from rich.table import Table

if TYPE_CHECKING:
    from kinhub.db.models import KinshipJob


jobs_app = typer.Typer(cls=Group, no_args_is_help=False, invoke_without_command=True)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _lease_expired(row: KinshipJob, now: datetime) -> bool | None:
    """Whether a running job's lease has run out (its worker died); None when not running."""
    if row.status != "running":
        return None
    until = to_utc(row.lease_until)
    return until is None or until < now


def job_dict(row: KinshipJob, *, now: datetime | None = None) -> dict[str, Any]:
    """One job as ``kinhub jobs --format json`` shows it."""
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "model_a": row.model_a,
        "model_b": row.model_b,
        "base": row.base,
        "revisions": {"a": row.revision_a, "b": row.revision_b, "base": row.revision_base},
        "child": row.child,
        "priority": row.priority,
        "attempts": row.attempts,
        "mode": row.mode,
        "lease_owner": row.lease_owner,
        "lease_until": _iso(to_utc(row.lease_until)),
        "lease_expired": _lease_expired(row, now or utcnow()),
        "next_attempt_at": _iso(row.next_attempt_at),
        "last_error": row.last_error,
        "kinship_id": row.kinship_id,
        "finished_at": _iso(row.finished_at),
    }


def _failure(row: KinshipJob) -> dict[str, Any]:
    return {
        "id": row.id,
        "model_a": row.model_a,
        "model_b": row.model_b,
        "base": row.base,
        "attempts": row.attempts,
        "error": row.last_error,
    }


def _listing(
    ctx: typer.Context, status: JobStatus | None, kind: JobKind | None, limit: int
) -> dict[str, Any]:
    from kinhub.db.jobs.queue import job_counts, lease_holders, list_jobs

    with database_of(ctx) as database, database.session() as session:
        rows = list_jobs(
            session,
            status=status.value if status else None,
            kind=kind.value if kind else None,
            limit=limit,
        )
        failures = list_jobs(session, status="failed", kind=kind.value if kind else None)
        return {
            "counts": job_counts(session),
            "workers": [
                {
                    "worker_id": h.owner,
                    "jobs": list(h.jobs),
                    "lease_until": _iso(h.lease_until),
                    "expired": h.expired,
                }
                for h in lease_holders(session)
            ],
            "jobs": [job_dict(r) for r in rows],
            "failures": [_failure(r) for r in failures],
        }


def _print_listing(data: dict[str, Any]) -> None:
    counts = data["counts"]
    stdout.print(
        ", ".join(f"{k} {v}" for k, v in counts.items()) + f" (total {sum(counts.values())})",
        highlight=False,
    )
    if data["jobs"]:
        table = Table(box=None, show_edge=False)
        for column in ("id", "kind", "status", "A", "B", "base", "mode", "tries", "lease / error"):
            table.add_column(column, overflow="fold")
        for j in data["jobs"]:
            note = j["last_error"] or ""
            if j["status"] == "running":
                until = str(j["lease_until"] or "?")[11:19]
                expired = " EXPIRED" if j["lease_expired"] else ""
                note = f"{j['lease_owner']} until {until}{expired}"
            elif j["status"] == "pending" and j["next_attempt_at"]:
                note = f"retry at {j['next_attempt_at']}: {note}"
            table.add_row(
                str(j["id"]), j["kind"], j["status"], escape(j["model_a"]),
                escape(j["model_b"]), escape(j["base"]), j["mode"] or "",
                str(j["attempts"]), escape(note),
            )  # fmt: skip
        stdout.print(table)
    if data["workers"]:
        stdout.print("\nworkers holding leases:", highlight=False)
        for w in data["workers"]:
            state = "EXPIRED" if w["expired"] else "until"
            jobs = ", ".join(str(i) for i in w["jobs"])
            stdout.print(
                f"  {escape(w['worker_id'])}: jobs {jobs} ({state} {w['lease_until']})",
                highlight=False,
                soft_wrap=False,
            )
    if data["failures"]:
        stdout.print("\nfailed:", highlight=False)
        for f in data["failures"]:
            stdout.print(
                f"  job {f['id']} ({escape(f['model_a'])} ~ {escape(f['model_b'])} | "
                f"{escape(f['base'])}), {f['attempts']} attempts: {escape(f['error'] or '')}",
                highlight=False,
                soft_wrap=False,  # wrapped at the terminal's width
            )


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    status: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs with this status.")
    ] = None,
    kind: Annotated[JobKind | None, typer.Option("--kind", help="Only pair or edge jobs.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="List at most N jobs.")
    ] = 1000,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List kinship jobs, the workers holding leases, and failures with their reasons.

    JSON: `{"counts": {status: n}, "workers": [{"worker_id", "jobs", "lease_until",
    "expired"}], "jobs": [{"id", "kind", "status", "model_a", "model_b", "base",
    "revisions", "child", "priority", "attempts", "mode", "lease_owner", "lease_until",
    "lease_expired", "next_attempt_at", "last_error", "kinship_id", "finished_at"}],
    "failures": [{"id", "model_a", "model_b", "base", "attempts", "error"}]}`.
    """
    if ctx.invoked_subcommand is not None:
        return
    with handle_errors():
        data = _listing(ctx, status, kind, limit)
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        _print_listing(data)


@jobs_app.command("retry", cls=Command)
def retry(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="[ID]...", help="Jobs to requeue.", show_default=False),
    ] = None,
    failed: Annotated[bool, flag("--failed", help="Requeue every failed job.")] = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Requeue jobs (by id, or every failed one): pending now, attempts start over.

    Running jobs are left to their workers; an id that names no job is an error
    (exit 1, nothing requeued). JSON: `{"requeued": [id, ...]}`.
    """
    if not ids and not failed:
        raise typer.BadParameter("give job ids or --failed")
    from kinhub.db.jobs.queue import requeue_jobs

    with (
        handle_errors(),
        database_of(ctx) as database,
        database.write_transaction() as session,
    ):
        requeued = requeue_jobs(session, ids=ids or (), failed=failed)
    if fmt is OutputFormat.json:
        print_json({"requeued": requeued})
    else:
        stdout.print(
            f"requeued {len(requeued)} job(s)"
            + (f": {', '.join(map(str, requeued))}" if requeued else ""),
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")
