"""``kinhub demo``: the whole pipeline, offline, on a generated hub.

The steps live in :func:`kinhub.pipeline.demo.run_demo`; this module reads the
options, calls it with a live progress line, and renders the result.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from kinhub.cli.common import (
    Command,
    FormatOpt,
    OutputFormat,
    handle_errors,
    print_json,
    state,
    stderr,
    stdout,
)
from kinhub.cli.render import (
    json_safe,
    lineage_tree,
    live_progress,
    print_crawl_summary,
    print_kinship,
)

if TYPE_CHECKING:
    from kinhub.pipeline.crawl import ProgressWithCalls
    from kinhub.pipeline.demo import DemoReport

DEMO_HELP = """\
Run kinhub end to end, offline: generate a hub, serve it, crawl it, compute
the queued kinship jobs with the worker, show a lineage (kinship on its merge
edges) and measure a kinship.

A synthetic hub (foundations, fine-tunes, three generations of mergekit merges,
MoE, gated repos, missing parents, broken cards, real tiny safetensors) is
served by the Hub emulator over HTTP and crawled into the demo's own database,
`DIR/kinhub.db` (or the one root `--db` / `KINHUB_DB` names). Everything the
demo makes stays in its directory: the hub in `DIR/hub`, the files it
downloads in its own Hugging Face cache, `DIR/hf_home` — never in yours.
Running it again is incremental: the crawl finds nothing changed, no job is
queued, and the kinship comes from the database.

Generated cards carry `model-index` evaluations with a planted relation
(merge gain = 2 − 6·kinship + noise), and the demo measures, while its hub is
up, what `partners` and `plan` need; it ends by printing those commands,
`analyze gain --plot` and `export --format html`, each runnable on its
database after it has exited (`HF_HUB_OFFLINE=1`: its hub is gone by then).
"""


_WIDTH = 80  # columns the closing lines are laid out for


def demo(
    ctx: typer.Context,
    models: Annotated[
        int, typer.Option("--models", min=20, metavar="N", help="Repos in the generated hub.")
    ] = 120,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "--hub-dir",
            metavar="DIR",
            help="The demo's directory (default: `demo` in the data directory).",
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    from kinhub.db.config import data_dir
    from kinhub.db.engine import open_database
    from kinhub.pipeline.demo import demo_database_url, run_demo

    root = (directory or data_dir() / "demo").expanduser().resolve()
    url = state(ctx).db_url or demo_database_url(root)
    with handle_errors():
        root.mkdir(parents=True, exist_ok=True)
        database = open_database(url)

        def run(progress: ProgressWithCalls | None = None) -> DemoReport:
            return run_demo(
                database,
                directory=root,
                n_models=models,
                progress=progress,
                notify=lambda message: stderr.print(message, highlight=False),
            )

        try:
            if fmt is OutputFormat.json:
                report = run()
            else:
                with live_progress("crawling the generated hub") as progress:
                    report = run(progress)
        finally:
            database.dispose()
    shown = printable_url(url)
    commands = next_commands(report, shown)
    if fmt is OutputFormat.json:
        print_json({**demo_json(report), "database": shown, "next_commands": commands})
    else:
        _print(report, shown, commands)


def printable_url(url: str) -> str:
    """``url`` with any password masked (``***``): the demo prints its database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return parsed.render_as_string(hide_password=True) if parsed.password else url


def next_commands(report: DemoReport, url: str) -> list[str]:
    """Shell commands to try next on the demo's database, each one line.  Those that may
    read weights run offline (``HF_HUB_OFFLINE=1``): the demo stored what they need, and
    its hub is gone."""
    steps = report.next
    if steps is None:
        return []
    db = f"KINHUB_DB={shlex.quote(url)}"
    offline = f"{db} HF_HUB_OFFLINE=1"
    failed = dict(steps.failed)
    found = []
    if "partners" not in failed:
        found.append(f"{offline} kinhub partners {shlex.quote(steps.partners_model)}")
    if "plan" not in failed:
        found.append(f"{offline} kinhub plan {shlex.join(steps.plan_pool)}")
    return [
        *found,
        f"{db} kinhub analyze gain --plot {shlex.quote(str(steps.plot))}",
        f"{db} kinhub export --format html {shlex.quote(steps.export_model)} --both "
        f"-o {shlex.quote(str(steps.html))}",
    ]


def demo_json(report: DemoReport) -> dict[str, Any]:
    return {
        "directory": str(report.directory),
        "hub": str(report.hub_dir),
        "hf_home": str(report.hf_home),
        "crawl": report.crawl.to_dict(),
        "lineage": report.lineage.to_json(),
        "kinship": json_safe(report.kinship.to_dict()) if report.kinship is not None else None,
        "worker": report.worker,
    }


def _print(report: DemoReport, url: str, commands: list[str]) -> None:
    print_crawl_summary(report.crawl.to_dict())
    stdout.print()
    if report.worker is not None:
        w = report.worker
        stdout.print(
            f"kinship worker: {w.get('done', 0)} jobs done, {w.get('failed', 0)} failed "
            f"in {w.get('seconds', 0):.1f}s",
            highlight=False,
        )
        stdout.print()
    stdout.print(lineage_tree(report.lineage, upward=True), soft_wrap=False)
    if report.kinship is not None:
        stdout.print()
        print_kinship(report.kinship.to_dict())
    rows = [("generated hub", report.hub_dir), ("Hugging Face cache", report.hf_home)]
    lines = [f"\ndemo files in {report.directory}:"]
    for label, value in [*rows, ("database", url)]:
        line = f"  {label:<18} {value}"
        # A value too long for the line goes on its own (a path cannot be wrapped).
        lines.append(line if len(line) <= _WIDTH else f"  {label}\n    {value}")
    stdout.print(
        "\n".join(lines),
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if commands:
        stdout.print(
            "\nnext, on the demo's database (its hub has stopped; these\n"
            "answer from what the demo stored):",
            highlight=False,
            soft_wrap=True,
        )
        for command in commands:
            stdout.print(shell_lines(command), highlight=False, soft_wrap=True, markup=False)


def shell_lines(command: str, *, width: int = _WIDTH, indent: str = "  ") -> str:
    """``command`` laid out for ``width`` columns with shell line continuations (a word
    longer than the line, such as a long path, keeps its own line)."""
    lines: list[str] = []
    current = indent
    for word in shlex.split(command):
        word = shlex.quote(word) if "=" not in word else _quote_assignment(word)
        candidate = f"{current} {word}" if current.strip() else f"{current}{word}"
        if current.strip() and len(candidate) + 2 > width:
            lines.append(f"{current} \\")
            current = f"{indent}  {word}"
        else:
            current = candidate
    lines.append(current)
    return "\n".join(lines)


def _quote_assignment(word: str) -> str:
    name, _, value = word.partition("=")
    return f"{name}={shlex.quote(value)}"


def register(app: typer.Typer) -> None:
    app.command(
        "demo", help=DEMO_HELP, short_help="The whole pipeline, offline, on a generated hub.",
        cls=Command,
    )(demo)  # fmt: skip
