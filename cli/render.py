"""How results look for people: crawl summaries, lineage trees, kinship tables,
and the live progress line — shared by the commands that show them.

Library types are imported for annotations only, so importing this module
costs no more than rich.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kinhub.cli.common import stderr, stdout
from rich.markup import escape

if TYPE_CHECKING:
    from kinhub.crawler.crawl import CrawlProgress
    from kinhub.db.answers.lineage import Lineage, LineageEdge
    from rich.tree import Tree


# ---------------------------------------------------------------- crawl


@contextmanager
def live_progress(title: str) -> Iterator[Callable[[CrawlProgress, dict[str, Any]], None]]:
    """A transient progress line on stderr; yields the crawl's progress callback."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(title)

        def report(event: CrawlProgress, calls: dict[str, Any]) -> None:
            c = event.counts
            where = event.listing or event.phase
            if event.batch_total:
                where += f" [{event.batch_done}/{event.batch_total}]"
            bar.update(
                task,
                description=(
                    f"{where}: seen {c['models_seen']}, new {c['new']}, changed {c['changed']}, "
                    f"refs {c['references_followed']}, files {c['files_downloaded']}, "
                    f"errors {sum(c['errors'].values())} | api {calls.get('api', 0)} "
                    f"resolve {calls.get('resolve', 0)}"
                ),
            )

        yield report


def print_crawl_summary(summary: dict[str, Any]) -> None:
    """The human-readable crawl summary on stdout."""
    req = summary["requests"]
    errors = summary["errors"]
    lines = [
        f"crawl {summary['scope']} ({summary['status']}"
        f"{'' if summary['complete'] else ', incomplete'}) in {summary['seconds']:.1f}s",
        f"  models listed {summary['models_seen']} + references followed "
        f"{summary['references_followed']}: new {summary['new']}, "
        f"changed {summary['changed']}, unchanged {summary['unchanged']}",
        f"  files downloaded {summary['files_downloaded']}, edges added {summary['edges_added']}, "
        f"kinship jobs queued {summary.get('jobs_queued', 0)}",
        f"  requests: api {req['calls']['api']}, resolve {req['calls']['resolve']} "
        f"(retries api {req['retries']['api']}, resolve {req['retries']['resolve']}; "
        f"rate limited {req['rate_limited']['api'] + req['rate_limited']['resolve']})",
        "  errors: " + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "none"),
    ]
    stdout.print("\n".join(lines), highlight=False)


# ---------------------------------------------------------------- lineage


def _label(edge: LineageEdge | None, node: str, unresolved: set[str]) -> str:
    text = f"[bold]{escape(node)}[/bold]"
    if node in unresolved:
        text += " [yellow](unresolved)[/yellow]"
    if edge is None:
        return text
    how = f"{edge.relation}/{edge.role}" + (f" via {edge.method}" if edge.method else "")
    text += f"  [dim]{escape(how)} {escape('[' + ', '.join(edge.sources) + ']')}[/dim]"
    if edge.kinship:
        text += f"  [cyan]{escape(kinship_brief(edge.kinship))}[/cyan]"
    return text


def kinship_brief(kinship: dict[str, Any]) -> str:
    """``cs 0.81 pcc 0.79 ed 1.2 vs org/base (exact)``: an edge's kinship on one line."""
    values = " ".join(
        f"{name} {'n/a' if kinship.get(name) is None else format(kinship[name], '.3g')}"
        for name in ("cs", "pcc", "ed")
    )
    return f"{values} vs {kinship['base']} ({kinship['mode']})"


def lineage_tree(result: Lineage, *, upward: bool) -> Tree:
    """Ancestors (``upward``) or descendants of the root as a rich tree; a node
    reached again (shared ancestors, cycles) is marked instead of repeated."""
    from rich.tree import Tree

    nxt: dict[str, list[LineageEdge]] = defaultdict(list)
    away = "down" if upward else "up"  # edges of the other walk (--both) belong to its tree
    for edge in result.edges:
        if edge.direction != away:
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


# ---------------------------------------------------------------- kinship


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(x) for k, x in value.items()}
    if isinstance(value, list):
        return [json_safe(x) for x in value]
    return value


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x:.6f}" for k, x in v.items())
    return f"{v:.10g}" if isinstance(v, float) else str(v)


def print_kinship(result: dict[str, Any]) -> None:
    """A kinship result (its ``to_dict()`` form) as a table of metrics."""
    from rich.table import Table

    intervals = result.get("intervals") or {}
    table = Table(
        title=f"kinship of {result['a']} and {result['b']} against {result['base']} "
        f"({result['mode']})"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    if intervals:
        table.add_column("95% interval", justify="right")
    for name, v in result["metrics"].items():
        cells = [name, _fmt(v)]
        if intervals:
            iv = intervals.get(name)
            cells.append(f"[{iv['low']:.6f}, {iv['high']:.6f}]" if iv else "")
        table.add_row(*cells)
    stdout.print(table)
    cost = f"params compared: {result['params_compared']:,}  "
    if result.get("cached"):  # the stored computation's time and cost, not now's
        when = str(result.get("computed_at", ""))[:19].replace("T", " ")
        cost += f"computed {when} UTC in {result['seconds']:.2f}s; answered from the database"
        cost += " (no weights read)"
    else:
        cost += f"bytes read: {result['bytes_read']:,}  time: {result['seconds']:.2f}s"
    stdout.print(cost, highlight=False)
    for what, items in (result.get("dropped") or {}).items():
        if items:
            stdout.print(f"dropped ({what}): {items}", highlight=False)
