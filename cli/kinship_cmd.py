"""``kinhub kinship A B --base Z``: native model kinship, exact or sampled, cached in the db."""

from __future__ import annotations

import math
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from kinhub.cli.common import OutputFormat, handle_errors, print_json, state, stdout
from kinhub.db.engine import open_database
from kinhub.db.kinship_store import find_kinship, kinship_key, save_kinship
from kinhub.kinship import metrics as registry
from rich.table import Table

if TYPE_CHECKING:
    from kinhub.kinship.engine import KinshipResult


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def _norm(ref: str) -> str:
    """Local folders are stored by absolute path; Hub ids as given."""
    p = Path(ref)
    return str(p.resolve()) if p.is_dir() else ref


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
        None, "--sample", min=0.0, max=1.0, help="Estimate from this fraction of every tensor."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of --sample."),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow *.bin/*.pt checkpoints (torch weights_only load)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute even if stored."),
) -> None:
    """Kinship of A and B against --base: cosine (cs), Pearson (pcc), Euclidean distance (ed)…

    Results are stored in the database (root --db, KINHUB_DB, else the default one); an
    identical later request is answered from it without reading weights ("cached": true).
    JSON: {"a", "b", "base", "metrics": {name: value}, "intervals", "params_compared",
    "bytes_read", "seconds", "dropped", "mode", "convention", "revisions", "cached", ...}.
    """
    # torch and numba load here, not when any kinhub command starts.
    from kinhub.kinship.engine import plan_kinship
    from kinhub.kinship.execute import resolve_device

    endpoint = hub_endpoint()
    with handle_errors():
        names = registry.parse_list(metrics)
        resolve_device(device.value)
        if dry_run:
            plan = plan_kinship(a, b, base, allow_pickle=allow_pickle, endpoint=endpoint)
            if fmt is OutputFormat.json:
                print_json(plan.to_dict())
            else:
                _print_plan(plan.to_dict())
            return
        result = measure_kinship(
            state(ctx).db_url,
            a,
            b,
            base,
            metrics=names,
            per_tensor=per_tensor,
            device=device.value,
            sample=sample,
            seed=seed,
            allow_pickle=allow_pickle,
            endpoint=endpoint,
            use_cache=not no_cache,
        )
    if fmt is OutputFormat.json:
        print_json(json_safe(result.to_dict()))
    else:
        print_result(result)


def measure_kinship(
    db_url: str | None,
    a: str,
    b: str,
    base: str,
    *,
    metrics: list[str],
    per_tensor: bool = False,
    device: str = "cpu",
    sample: float | None = None,
    seed: int = 0,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    use_cache: bool = True,
) -> KinshipResult:
    """Kinship from the database when stored, else computed and stored (with a database).

    Raises:
        KinhubError: whatever the engine or the database raises.
    """
    from kinhub.kinship.engine import compute_kinship, fingerprint

    names = metrics
    na, nb, nz = _norm(a), _norm(b), _norm(base)
    mode = "sampled" if sample is not None else "exact"
    key = kinship_key(
        a=na,
        b=nb,
        base=nz,
        fingerprints={
            s: fingerprint(r, endpoint=endpoint) for s, r in (("a", a), ("b", b), ("base", base))
        },
        mode=mode,
        convention="native",
        sample_fraction=sample,
        seed=seed,
    )
    database = open_database(db_url)
    try:
        result = None
        if use_cache:
            with database.session() as session:
                row = find_kinship(session, key=key)
                if (
                    row is not None
                    and set(names) <= set(row.metrics)
                    and (not per_tensor or row.breakdown)
                ):
                    result = _from_row(row, names)
        if result is None:
            result = compute_kinship(
                a,
                b,
                base,
                metrics=names,
                per_tensor=per_tensor,
                device=device,
                sample=sample,
                seed=seed,
                allow_pickle=allow_pickle,
                endpoint=endpoint,
            )
            result.a, result.b, result.base = na, nb, nz
            with database.session() as session:
                save_kinship(
                    session,
                    key=key,
                    a=na,
                    b=nb,
                    base=nz,
                    revisions=result.revisions,
                    mode=result.mode,
                    convention=result.convention,
                    metrics=result.metrics,
                    params_compared=result.params_compared,
                    bytes_read=result.bytes_read,
                    seconds=result.seconds,
                    sample_fraction=sample,
                    intervals=result.intervals,
                    breakdown=result.breakdown,
                    dropped=result.dropped,
                )
    finally:
        database.dispose()
    return result


def _from_row(row: Any, names: list[str]) -> KinshipResult:
    from kinhub.kinship.engine import KinshipResult

    return KinshipResult(
        a=row.model_a,
        b=row.model_b,
        base=row.base,
        metrics={n: (math.nan if row.metrics[n] is None else row.metrics[n]) for n in names},
        params_compared=row.params_compared,
        bytes_read=0,
        seconds=row.seconds,
        dropped=row.dropped,
        mode=row.mode,
        convention=row.convention,
        revisions={"a": row.revision_a, "b": row.revision_b, "base": row.revision_base},
        intervals=row.intervals,
        sample_fraction=row.sample_fraction,
        breakdown=row.breakdown,
        cached=True,
    )


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


def print_result(r: KinshipResult) -> None:
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
    stdout.print(
        f"params compared: {r.params_compared:,}  bytes read: {r.bytes_read:,}  "
        f"time: {r.seconds:.2f}s" + ("  (cached: no weights read)" if r.cached else "")
    )
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
