"""How results look for people: crawl summaries, lineage trees, kinship tables,
and the live progress line — shared by the commands that show them.

Library types are imported for annotations only, so importing this module
costs no more than rich.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kinhub.cli.common import stderr, stdout
from rich.text import Text

if TYPE_CHECKING:
    from kinhub.crawler.crawl import CrawlProgress
    from kinhub.db.answers.lineage import Lineage, LineageEdge
    from rich.console import Group


# ---------------------------------------------------------------- terminal-safe text

# Bidirectional controls (embeddings, overrides, isolates, marks): a card can use
# them to make one model id look like another on screen.
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# Control, format (bidi, zero-width), line/paragraph separator and surrogate code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

MISSING = "—"
"""What a table shows for a missing value."""


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text a terminal shows literally: control characters (ESC, CR,
    newline, NUL, DEL, C1), bidi overrides and other invisible format characters
    become visible escapes (``\\x1b``, ``\\u202e``). With ``keep_newlines``, newlines
    and tabs stay (multi-line views such as a recipe's raw text).

    Every table and tree cell, title and message built from stored data goes
    through here; ``--format json`` prints the real strings (escaped by JSON).
    """
    text = str(value)
    if text.isprintable():  # the common case: nothing to escape
        return text
    kept = "\n\t" if keep_newlines else ""
    return "".join(
        _escaped(ch)
        if ch not in kept and (ord(ch) in _BIDI or unicodedata.category(ch) in _UNSAFE_CATEGORIES)
        else ch
        for ch in text
    )


def esc(value: object) -> str:
    """:func:`safe` text, escaped for rich markup: for stored data inside a message
    printed with markup (``f"[yellow]{esc(model)}:[/yellow] …"``)."""
    from rich.markup import escape

    return escape(safe(value))


def cell(value: Any) -> Text:
    """A table cell that shows ``value`` literally (no rich markup, see :func:`safe`):
    ``—`` for a missing value, 4 significant digits for a float, thousands
    separators for an int."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text(MISSING, style="dim")
    if isinstance(value, float):
        return Text(f"{value:.4g}")
    if isinstance(value, int) and not isinstance(value, bool):
        return Text(f"{value:,}")
    if isinstance(value, (list, tuple)):
        return Text(", ".join(safe(v) for v in value))
    return Text(safe(value))


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
        f"crawl {esc(summary['scope'])} ({summary['status']}"
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

# Levels of guides drawn before a deeper line shows its depth (``‹57›``) in front of
# the last few levels' guides, so a 1,000-deep chain still fits an 80-column line.
MAX_GUIDE_LEVELS = 6


def _label(edge: LineageEdge | None, node: str, unresolved: set[str]) -> Text:
    text = Text(safe(node), style="bold")
    if node in unresolved:
        text.append(" (unresolved)", style="yellow")
    if edge is None:
        return text
    how = f"{edge.relation}/{edge.role}" + (f" via {edge.method}" if edge.method else "")
    text.append(f"  {safe(how)} [{safe(', '.join(edge.sources))}]", style="dim")
    if edge.kinship:
        text.append(f"  {kinship_brief(edge.kinship)}", style="cyan")
    mark = check_mark(edge.weight_check)
    if mark is not None:
        text.append(f"  {mark[0]}", style=mark[1])
    return text


def check_mark(check: dict[str, Any] | None) -> tuple[str, str] | None:
    """An edge's weight check as a short mark and its style (None: not judged)."""
    verdict = (check or {}).get("verdict")
    if verdict == "consistent":
        return "✓ weights", "green"
    if verdict == "contradicted":
        score, threshold = check.get("score"), check.get("threshold")  # type: ignore[union-attr]
        rule = (check.get("evidence") or {}).get("rule", "")  # type: ignore[union-attr]
        return f"✗ weights contradict ({safe(rule)} {score} vs {threshold})", "bold red"
    return None


def kinship_brief(kinship: dict[str, Any]) -> str:
    """``cs 0.81 pcc 0.79 ed 1.2 vs org/base (exact)``: an edge's kinship on one line."""
    values = " ".join(
        f"{name} {'n/a' if kinship.get(name) is None else format(kinship[name], '.3g')}"
        for name in ("cs", "pcc", "ed")
    )
    return f"{values} vs {safe(kinship['base'])} ({safe(kinship['mode'])})"


def _guides(lasts: list[bool], last: bool) -> Text:
    """The tree guides in front of a node whose ancestors' lastness is ``lasts``."""
    shown = lasts[-MAX_GUIDE_LEVELS:]
    text = Text()
    if len(lasts) > len(shown):
        text.append(f"‹{len(lasts) + 1}› ", style="dim")
    text.append(
        "".join("    " if done else "│   " for done in shown) + ("└── " if last else "├── ")
    )
    return text


def lineage_tree(result: Lineage, *, upward: bool) -> Group:
    """Ancestors (``upward``) or descendants of the root as a tree; a node reached
    again (shared ancestors, cycles) is marked instead of repeated.

    Walked with an explicit stack and drawn line by line, so any depth renders;
    beyond :data:`MAX_GUIDE_LEVELS` levels a line shows its depth (``‹57›``) instead
    of more guides. Every name from the database is shown through :func:`safe`.
    """
    from rich.console import Group

    nxt: dict[str, list[LineageEdge]] = defaultdict(list)
    away = "down" if upward else "up"  # edges of the other walk (--both) belong to its tree
    for edge in result.edges:
        if edge.direction != away:
            nxt[edge.child if upward else edge.parent].append(edge)
    unresolved = {n.id for n in result.nodes if n.unresolved}
    title = "ancestors" if upward else "descendants"
    lines = [_label(None, result.root, unresolved) + Text(f" ({title})", style="dim")]
    shown = {result.root}
    # Pre-order, so a node is expanded where it first appears on screen and marked
    # at every later appearance (cycles and shared ancestors). ``stack`` holds each
    # open level's edges and the next index; ``lasts`` whether each open node was
    # the last of its siblings (len(lasts) == len(stack) - 1).
    stack: list[tuple[list[LineageEdge], int]] = [(nxt.get(result.root, []), 0)]
    lasts: list[bool] = []
    while stack:
        edges, i = stack[-1]
        if i == len(edges):
            stack.pop()
            if lasts:
                lasts.pop()
            continue
        stack[-1] = (edges, i + 1)
        edge, last = edges[i], i == len(edges) - 1
        other = edge.parent if upward else edge.child
        line = _guides(lasts, last) + _label(edge, other, unresolved)
        if other in shown:
            lines.append(line + Text(" ↺ shown above", style="dim"))
            continue
        shown.add(other)
        lines.append(line)
        if nxt.get(other):
            stack.append((nxt[other], 0))
            lasts.append(last)
    return Group(*lines)


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
    if v is None:
        return MISSING
    if isinstance(v, dict):
        return ", ".join(
            f"{safe(k)}: {_fmt(x) if x is None else format(x, '.6f')}" for k, x in v.items()
        )
    return f"{v:.10g}" if isinstance(v, float) else safe(v)


def print_kinship(result: dict[str, Any]) -> None:
    """A kinship result (its ``to_dict()`` form) as a table of metrics."""
    from rich.table import Table

    intervals = result.get("intervals") or {}
    title = (
        f"kinship of {safe(result['a'])} and {safe(result['b'])} against "
        f"{safe(result['base'])} ({safe(result['mode'])})"
    )
    stdout.print(Text(title, style="italic"), soft_wrap=False)  # wrapped at the width
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    if intervals:
        table.add_column("95% interval", justify="right")
    for name, v in result["metrics"].items():
        cells = [safe(name), _fmt(v)]
        if intervals:
            iv = intervals.get(name)
            cells.append(f"[{iv['low']:.6f}, {iv['high']:.6f}]" if iv else "")
        table.add_row(*cells)
    stdout.print(table)
    cost = f"params compared: {result['params_compared']:,}  "
    if result.get("cached"):  # the stored computation's time and cost, not now's
        when = str(result.get("computed_at", ""))[:19].replace("T", " ")
        cost += f"computed {when} UTC in {result['seconds']:.2f}s;"
        cost += "\nanswered from the database (no weights read)"
    else:
        cost += f"bytes read: {result['bytes_read']:,}  time: {result['seconds']:.2f}s"
    stdout.print(cost, highlight=False, soft_wrap=False)
    for what, items in (result.get("dropped") or {}).items():
        if items:
            stdout.print(Text(safe(f"dropped ({what}): {items}")), soft_wrap=False)
