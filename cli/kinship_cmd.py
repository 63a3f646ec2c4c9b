"""``kinhub kinship A B --base Z``: native model kinship, exact or sampled, cached in the db."""

from __future__ import annotations

import math
import os
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from kinhub.cli.common import OutputFormat, handle_errors, open_db, print_json, stdout
from kinhub.kinship import metrics as registry
from rich.table import Table

if TYPE_CHECKING:
    from kinhub.kinship.service import Measurement


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def kinship(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="Model A: local folder or org/name, optionally @revision."),
    b: str = typer.Argument(..., help="Model B: local folder or org/name, optionally @revision."),
    base: str = typer.Option(..., "--base", help="The base both task vectors are taken from."),
    metrics: str = typer.Option(
        "cs,pcc,ed", "--metrics", help=f"Comma-separated: {', '.join(registry.known())}."
    ),
    per_tensor: bool = typer.Option(False, "--per-tensor", help="Include per-tensor values."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    device: Device = typer.Option(Device.cpu, "--device", help="cpu, cuda or auto."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; read no tensor data."),
    sample: float | None = typer.Option(
        None, "--sample", help="Estimate from this fraction (0 < F <= 1) of every tensor."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of --sample."),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow *.bin/*.pt checkpoints (torch weights_only load)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if stored."),
) -> None:
    """Kinship of A and B against --base: cosine (cs), Pearson (pcc), Euclidean distance (ed)…

    Results are stored in the database (root --db, KINHUB_DB, else the default one); an
    identical later request is answered from it without reading weights ("cached": true,
    with the "seconds" and "computed_at" of the original computation).  Asking for more
    metrics later adds them to the stored measurement.
    JSON: {"a", "b", "base", "metrics": {name: value}, "intervals", "params_compared",
    "bytes_read", "seconds", "computed_at", "dropped", "mode", "convention", "revisions",
    "cached", ...}.
    """
    # torch and numba load with the service, not when any kinhub command starts.
    from kinhub.kinship import service

    endpoint = hub_endpoint()
    with handle_errors():
        names = registry.parse_list(metrics)
        service.check_sample(sample)
        if dry_run:
            plan = service.plan_measurement(
                a=a, b=b, base=base, allow_pickle=allow_pickle, endpoint=endpoint
            )
            if fmt is OutputFormat.json:
                print_json(plan.to_dict())
            else:
                _print_plan(plan.to_dict())
            return
        database = open_db(ctx)
        try:
            result = service.measure_kinship(
                database,
                a=a,
                b=b,
                base=base,
                metrics=names,
                per_tensor=per_tensor,
                device=device.value,
                sample=sample,
                seed=seed,
                allow_pickle=allow_pickle,
                endpoint=endpoint,
                use_cache=not no_cache,
            )
        finally:
            database.dispose()
    if fmt is OutputFormat.json:
        print_json(json_safe(result.to_dict()))
    else:
        print_result(result)


def json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_safe(x) for x in v]
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x:.6f}" for k, x in v.items())
    return f"{v:.10g}" if isinstance(v, float) else str(v)


def print_result(m: Measurement) -> None:
    r = m.result
    t = Table(title=f"kinship of {r.a} and {r.b} against {r.base} ({r.mode})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    if r.intervals:
        t.add_column("95% interval", justify="right")
    for name, v in r.metrics.items():
        iv = r.intervals.get(name)
        cells = [name, _fmt(v)]
        if r.intervals:
            cells.append(f"[{iv['low']:.6f}, {iv['high']:.6f}]" if iv else "")
        t.add_row(*cells)
    stdout.print(t)
    when = m.computed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    cost = f"params compared: {r.params_compared:,}  "
    if r.cached:
        cost += f"computed {when} in {r.seconds:.2f}s; answered from the database (no weights read)"
    else:
        cost += f"bytes read: {r.bytes_read:,}  time: {r.seconds:.2f}s"
    stdout.print(cost, highlight=False)
    _print_dropped(r.dropped)
    if r.breakdown:
        bt = Table(title="per tensor")
        for col in ("tensor", "numel", "cs", "pcc", "ed"):
            bt.add_column(col)
        for name, d in r.breakdown.items():
            bt.add_row(name, *(_fmt(d.get(c, "")) for c in ("numel", "cs", "pcc", "ed")))
        stdout.print(bt)


def _print_dropped(dropped: dict[str, Any]) -> None:
    for what, items in dropped.items():
        if items:
            stdout.print(f"dropped ({what}): {items}", highlight=False)


def _print_plan(plan: dict[str, Any]) -> None:
    stdout.print(
        f"plan ({plan['convention']}): {plan['tensors']} tensors, {plan['params']:,} params, "
        f"{plan['bytes']:,} bytes to read"
    )
    for e in plan["entries"]:
        sys.stdout.write(f"  {e['name']}  {tuple(e['shape'])}  {e['numel']:,}\n")
    _print_dropped(plan["dropped"])


def register(app: typer.Typer) -> None:
    app.command("kinship")(kinship)
