"""``kinhub worker``: take kinship jobs from the database and compute them.

The loop is :class:`kinhub.pipeline.worker.Worker`; this module reads the options,
turns SIGINT/SIGTERM into a clean stop, shows progress on stderr (a Rich bar on a
terminal, one log line per event otherwise) and prints the run's counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

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
from kinhub.cli.durations import DURATION_HELP, optional_duration, parse_duration
from kinhub.cli.render import esc as escape  # terminal-safe and markup-escaped
from kinhub.hub.ratelimit import Plan
from kinhub.kinship.names import DEFAULT_WORKER_MODE, WorkerMode

if TYPE_CHECKING:
    from kinhub.pipeline.worker import WorkerEvent


def _size(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    from kinhub.hub.cache import CacheBudgetError, parse_size

    try:
        return parse_size(text)
    except CacheBudgetError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def _job_line(event: WorkerEvent) -> str:
    job = event.job
    if job is None:
        return event.kind
    a, b, base = job.refs
    head = f"job {job.id} ({job.kind} {a} ~ {b} | base {base})"
    d = event.detail
    if event.kind == "claimed":
        return f"{head}: claimed, attempt {job.attempts}"
    if event.kind == "mode":
        return f"job {job.id}: {d['mode']}"
    if event.kind == "done":
        values = ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in d.get("metrics", {}).items()
        )
        cached = ", stored earlier" if d.get("cached") else ""
        return (
            f"job {job.id}: done ({d['mode']}, {d['seconds']:.1f}s, "
            f"{d['bytes_read']:,} bytes{cached}): {values}"
        )
    if event.kind == "retry":
        return f"job {job.id}: failed, retry at {d['retry_at']}: {d['reason']}"
    if event.kind in ("failed", "released", "lost"):
        return f"job {job.id}: {event.kind}: {d.get('reason', '')}"
    if event.kind == "evicted":
        return f"cache over budget: deleted {len(d['deleted'])} revisions"
    return f"job {job.id}: {event.kind}"


@contextmanager
def _progress(show_bar: bool) -> Iterator[Callable[[WorkerEvent], None]]:
    """The worker's event hook: a Rich bar on a terminal, log lines otherwise."""
    if not show_bar:

        def log(event: WorkerEvent) -> None:
            if event.kind not in ("progress", "idle", "mode"):
                stderr.print(escape(_job_line(event)), highlight=False)

        yield log
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        tasks: dict[int, Any] = {}

        def show(event: WorkerEvent) -> None:
            job = event.job
            if event.kind == "progress" and job is not None:
                task = tasks.get(job.id)
                if task is None:
                    task = tasks[job.id] = bar.add_task(f"job {job.id}", total=None)
                bar.update(task, completed=event.detail["done"], total=event.detail["total"])
                return
            if event.kind in ("idle", "mode"):
                return
            if job is not None and event.kind != "claimed" and job.id in tasks:
                bar.remove_task(tasks.pop(job.id))
            bar.console.print(escape(_job_line(event)), highlight=False)

        yield show


def _print_report(report: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        print_json(report)
        return
    modes = ", ".join(f"{k} {v}" for k, v in sorted(report["modes"].items())) or "none"
    stdout.print(
        f"worker {escape(report['worker_id'])}: {report['status']}; "
        f"claimed {report['claimed']}, done {report['done']} ({modes}), "
        f"failed {report['failed']}, retry later {report['retried']}, "
        f"released {report['released']}, lost {report['lost']}; "
        f"{report['bytes_read']:,} bytes read in {report['seconds']:.1f}s",
        highlight=False,
    )
    for error in report["errors"]:
        stdout.print(f"  job {error['job']}: {escape(error['error'])}", highlight=False)


WORKER_HELP = """\
Take kinship jobs from the database and compute them, one at a time.

Each job is claimed in its own transaction under a lease the worker renews while
it computes (PostgreSQL: any number of workers on any machines share the queue).
The result is stored and the job marked done in one transaction. `auto` mode
computes exactly when the three models' safetensors add up to at most
`--exact-max-bytes` and samples by HTTP Range otherwise, or answers from per-model
sketches (`kinhub sketch`; missing ones are read first) when they add up to more
than `KINHUB_SKETCH_MIN_BYTES` (default 30GB). Failures are retried with
backoff; missing, gated or corrupt inputs fail at once with the reason (see
`kinhub jobs`). Ctrl-C or SIGTERM releases the current job and exits.
Without `--once`/`--until-empty` the worker waits for new jobs.

The Hub read: `--endpoint`, else `HF_ENDPOINT`, else the endpoint the database's
last `kinhub crawl` stored, else huggingface.co; the plan: `--plan`, else the
stored one when that endpoint is used. A Hub that cannot be reached ends the run
with one line and exit 1.

JSON: `{"status", "worker_id", "claimed", "done", "failed", "retried", "released",
"lost", "modes", "bytes_read", "seconds", "errors", "evicted_bytes"}`.
"""


def worker_command(
    ctx: typer.Context,
    once: Annotated[bool, flag("--once", help="Compute one job (if any is due) and exit.")] = False,
    until_empty: Annotated[
        bool, flag("--until-empty", help="Exit when no job is due instead of waiting.")
    ] = False,
    max_jobs: Annotated[
        int | None,
        typer.Option("--max-jobs", min=1, metavar="N", help="Exit after N jobs."),
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time-budget",
            metavar="DURATION",
            help=f"Take no new job after this long ({DURATION_HELP}).",
        ),
    ] = None,
    mode: Annotated[
        WorkerMode,
        typer.Option(
            "--mode",
            help="`exact`, `sampled` (HTTP Range), `sketch` (stored per-model sketches), "
            "or `auto` by size.",
        ),
    ] = DEFAULT_WORKER_MODE,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id", metavar="ID", help="Name in job leases (default: host:pid:random)."
        ),
    ] = None,
    cache_budget: Annotated[
        str | None,
        typer.Option(
            "--cache-budget",
            metavar="SIZE",
            help="Keep the HF cache under SIZE (`200GB`): least recently used revisions "
            "that no running job needs are deleted.",
        ),
    ] = None,
    exact_max_bytes: Annotated[
        str | None,
        typer.Option(
            "--exact-max-bytes",
            metavar="SIZE",
            envvar="KINHUB_EXACT_MAX_BYTES",
            help="`auto`: largest total of the three models computed exactly (default 30GB).",
        ),
    ] = None,
    sample: Annotated[
        float,
        typer.Option(
            "--sample", min=0.0, max=1.0, metavar="F", help="Fraction read in sampled mode."
        ),
    ] = 0.02,
    lease: Annotated[
        str | None,
        typer.Option(
            "--lease",
            metavar="DURATION",
            envvar="KINHUB_WORKER_LEASE_S",
            help="Lease length; a dead worker's job is taken over after it "
            f"(default 5m; {DURATION_HELP}).",
        ),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, metavar="N", help="Attempts per job.")
    ] = 3,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="Hub URL (default: `HF_ENDPOINT`, else the last crawl's, else huggingface.co).",
        ),
    ] = None,
    plan: Annotated[
        Plan | None,
        typer.Option(
            "--plan", help="Account tier for the rate limits (default: the last crawl's)."
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.pipeline.worker import Worker, WorkerSettings, stop_on_signals

    budget_s = optional_duration(time_budget, option="--time-budget")
    lease_s = optional_duration(lease, option="--lease", positive=True)
    if sample <= 0:
        raise typer.BadParameter("must be in (0, 1]", param_hint="--sample")
    options: dict[str, Any] = {
        "mode": mode,
        "sample": sample,
        "max_attempts": max_attempts,
        "cache_budget": _size(cache_budget, "--cache-budget"),
        "endpoint": endpoint or None,
        "plan": plan.value if plan is not None else None,
    }
    if worker_id:
        options["worker_id"] = worker_id
    if exact_max_bytes is not None:
        options["exact_max_bytes"] = _size(exact_max_bytes, "--exact-max-bytes")
    if lease_s is not None:
        options["lease_s"] = lease_s
    with handle_errors():
        settings = WorkerSettings(**options)
        with database_of(ctx) as database, _progress(stderr.is_terminal) as on_event:
            worker = Worker(database, settings, on_event=on_event)
            with stop_on_signals(worker):
                report = worker.run(
                    once=once, until_empty=until_empty, max_jobs=max_jobs, time_budget_s=budget_s
                )
    _print_report(report.to_dict(), fmt)


__all__ = ["parse_duration", "register", "worker_command"]


def register(app: typer.Typer) -> None:
    app.command(
        "worker",
        help=WORKER_HELP,
        short_help="Compute queued kinship jobs (any number of workers).",
        cls=Command,
    )(worker_command)
