"""Benchmark: ``kinhub relatives`` at 100,000 sketches of one plan, on SQLite and
PostgreSQL, against the brute-force exact scan in the same run.

Generates ``--models`` sketches of one plan as families with numpy
(:mod:`kinhub.sandbox.sketch_families`: a foundation, sub-families of fine-tunes
sharing a direction, fine-tunes of fine-tunes, merges), declares most true parents
as edges (``--undeclared`` of them are left out), stores everything through the store
functions (:func:`kinhub.kinship.relatives_load.bulk_store`: sketch, summary, model
and edge rows), then measures in process:

* ``relatives`` latency (``find_relatives``, top ``--top``, default shortlist) on
  ``--queries`` random models: p50 / p95, and the summary SELECT alone;
* recall@K of the shortlist: the answer against the exact top-K over all the plan's
  sketches (computed from the generated values, which are what is stored), and the
  largest |reported − exact| similarity;
* the baseline: the brute-force exact scan of full sketches (``exact_scan``) over the
  first ``--scan`` sketches, per 1,000 sketches and extrapolated to ``--models``;
* the rerank at the default sketch size: ``--default-models`` sketches of 65,536
  values in a second plan, the same queries' latency (the shortlist's full sketches
  are C × 256 KiB).

A 65,536-value sketch is 256 KiB, so 100,000 are 25 GB per database: the run uses
``--sketch-size`` values (default 8,192, blocks of ``--block`` 16 so every tensor of the
7B layout gets its share).  Databases are temporary (a SQLite file in a temporary
folder, a PostgreSQL database created and dropped).

    python scripts/bench_relatives.py [--backend both] [--models 100000]

Prints one JSON document (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from kinhub.db import sketch_summary as summaries  # noqa: E402
from kinhub.db.engine import Database, open_database  # noqa: E402
from kinhub.kinship.relatives import find_relatives, prepare  # noqa: E402
from kinhub.kinship.relatives_load import bulk_store, exact_scan  # noqa: E402
from kinhub.kinship.sketch_compare import value_weights  # noqa: E402
from kinhub.kinship.sketch_plan import SketchLayout, make_plan  # noqa: E402
from kinhub.sandbox.sketch_families import FOUNDATION, SketchFamilies, sketch_families  # noqa: E402
from kinhub.sandbox.tensors import llama_shapes  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def declared_edges(fam: SketchFamilies, undeclared: float, seed: int) -> list[tuple[int, int]]:
    """True parent edges, each left out with probability ``undeclared``."""
    rng = np.random.default_rng(seed + 1)
    return [
        (child, parent)
        for child, parents in enumerate(fam.parents)
        for parent in parents
        if rng.random() >= undeclared
    ]


def exact_top(
    layout: SketchLayout,
    values: np.ndarray,
    queries: list[tuple[int, int]],
    top: int,
    chunk: int = 5_000,
) -> list[list[int]]:
    """Each query's exact top-K (indices) over every model: ``queries`` are
    ``(model, base)`` indices, grouped by base so the data is read once per base."""
    w = value_weights(layout)
    out: dict[int, list[int]] = {}
    for zi in sorted({b for _, b in queries}):
        group = [j for j, (_, b) in enumerate(queries) if b == zi]
        z = values[zi].astype(np.float64)
        t = np.stack([values[queries[j][0]].astype(np.float64) - z for j in group], axis=1)
        wt = w[:, None] * t
        tnorm = np.sqrt((t * wt).sum(axis=0))
        sims = np.empty((values.shape[0], len(group)))
        for start in range(0, values.shape[0], chunk):
            d = values[start : start + chunk].astype(np.float64) - z
            norms = np.sqrt(np.einsum("ij,ij,j->i", d, d, w))[:, None] * tnorm[None, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                sims[start : start + chunk] = np.where(norms > 0, (d @ wt) / norms, 0.0)
        for k, j in enumerate(group):
            col = sims[:, k].copy()
            col[[zi, queries[j][0]]] = -np.inf
            out[j] = [int(i) for i in np.argsort(-col, kind="stable")[:top]]
    return [out[j] for j in range(len(queries))]


def table_bytes(database: Database, table: str) -> int | None:
    with database.engine.connect() as conn:
        if database.engine.dialect.name == "postgresql":
            return int(conn.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one())
        try:
            size = conn.execute(
                text("SELECT SUM(pgsize) FROM dbstat WHERE name = :t OR name LIKE :i"),
                {"t": table, "i": f"ix_{table}%"},
            ).scalar_one()
        except Exception:  # dbstat not compiled in
            return None
        return int(size) if size is not None else None


def run_queries(
    database: Database,
    fam: SketchFamilies,
    queries: list[int],
    declared: set[int],
    top: int,
) -> tuple[list[float], list[Any]]:
    latencies, answers = [], []
    for q in queries:
        base = None if q in declared else FOUNDATION
        t0 = time.perf_counter()
        found = find_relatives(database, fam.names[q], top=top, base=base)
        latencies.append(time.perf_counter() - t0)
        answers.append(found)
    return latencies, answers


def measure(
    url: str,
    args: argparse.Namespace,
    layout: SketchLayout,
    fam: SketchFamilies,
    edges: list[tuple[int, int]],
    small: tuple[SketchLayout, SketchFamilies] | None,
) -> dict[str, Any]:
    database = open_database(url)
    try:
        t0 = time.perf_counter()
        bulk_store(
            database, layout, names=fam.names, values=fam.values, edges=edges,
            on_batch=lambda n: log(f"  stored {n:,}") if n % 20_000 == 0 else None,
        )  # fmt: skip
        stored_s = time.perf_counter() - t0
        log(f"  stored {len(fam.names):,} sketches in {stored_s:.0f} s")
        with database.engine.connect() as conn:  # planner statistics, as a live db has
            if database.engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE"))
            else:
                conn.execute(text("ANALYZE"))
            conn.commit()
        t1 = time.perf_counter()
        _, packed = prepare(database, layout)
        pack_s = time.perf_counter() - t1
        log(f"  packed {packed:,} summaries in {pack_s:.1f} s")
        declared = {c for c, _ in edges}
        rng = np.random.default_rng(args.seed + 2)
        queries = [int(q) for q in rng.choice(np.arange(1, len(fam.names)), args.queries, False)]
        run_queries(database, fam, queries[:3], declared, args.top)  # warm the caches
        latencies, answers = run_queries(database, fam, queries, declared, args.top)
        loads = []
        for _ in range(5):
            t1 = time.perf_counter()
            with database.session() as session:
                got = summaries.load_summaries(session, layout.key)
            loads.append(time.perf_counter() - t1)
        index = {n: i for i, n in enumerate(fam.names)}
        bases = [index[a.base] for a in answers]
        truth = exact_top(layout, fam.values, list(zip(queries, bases, strict=True)), args.top)
        recalls, related, worst, nearest_parent = [], [], 0.0, []
        w = value_weights(layout)

        def cs(t: np.ndarray, d: np.ndarray) -> float:
            return float((w * t * d).sum() / np.sqrt((w * t * t).sum() * (w * d * d).sum()))

        for q, zi, found, want in zip(queries, bases, answers, truth, strict=True):
            z = fam.values[zi].astype(np.float64)
            got_ids = [index[r.model] for r in found.relatives]
            recalls.append(len(set(got_ids) & set(want)) / args.top)
            t = fam.values[q] - z
            for r in found.relatives:
                worst = max(worst, abs(cs(t, fam.values[index[r.model]] - z) - r.similarity))
            # Queries whose K-th true relative stands out of the projection's noise
            # (against a base that is a close parent, every change is noise-like).
            if cs(t, fam.values[want[-1]] - z) >= 0.2:
                related.append(recalls[-1])
            if fam.kinds[q] == "child" and got_ids and zi == 0:
                nearest_parent.append(got_ids[0] == fam.parents[q][0])
        scans = []
        for q in queries[: args.scan_queries]:
            scan = exact_scan(
                database, layout, model=fam.names[q], base=FOUNDATION, top=args.top,
                limit=args.scan,
            )  # fmt: skip
            scans.append(scan)
        per_k = statistics.median(s.seconds for s in scans) * 1000 / scans[0].scanned * 1000
        report: dict[str, Any] = {
            "models": len(fam.names),
            "values_per_sketch": layout.num_values,
            "store_seconds": round(stored_s, 1),
            "pack_seconds": round(pack_s, 2),
            "queries": len(queries),
            "bases": {n: bases.count(index[n]) for n in sorted({a.base for a in answers})}
            if len({a.base for a in answers}) <= 5
            else f"{len({a.base for a in answers})} distinct",
            "relatives_ms": {
                "p50": round(percentile(latencies, 50) * 1000, 1),
                "p95": round(percentile(latencies, 95) * 1000, 1),
                "max": round(max(latencies) * 1000, 1),
            },
            "summary_select_ms_p50": round(statistics.median(loads) * 1000, 1),
            "candidates": got.count,
            "shortlist": answers[0].shortlist,
            "recall_at_k": round(float(np.mean(recalls)), 4),
            "recall_min": round(float(np.min(recalls)), 4),
            "recall_at_k_related": round(float(np.mean(related)), 4) if related else None,
            "queries_related": len(related),
            "recall_min_related": round(float(np.min(related)), 4) if related else None,
            "max_abs_similarity_error": worst,
            "children_whose_parent_is_first": f"{sum(nearest_parent)}/{len(nearest_parent)}",
            "brute_force": {
                "scanned": scans[0].scanned,
                "ms_per_1000_sketches": round(per_k, 1),
                f"extrapolated_ms_at_{len(fam.names)}": round(per_k * len(fam.names) / 1000),
                "bytes_per_sketch": scans[0].bytes_read // scans[0].scanned,
            },
            "summary_table_bytes_per_model": _per_model(database, "sketch_summary", len(fam.names)),
            "sketch_table_bytes_per_model": _per_model(database, "model_sketch", len(fam.names)),
        }
        if small is not None:
            report["default_size"] = default_size_rerank(database, args, *small)
        return report
    finally:
        database.dispose()


def _per_model(database: Database, table: str, models: int) -> int | None:
    size = table_bytes(database, table)
    return None if size is None else size // models


def default_size_rerank(
    database: Database, args: argparse.Namespace, layout: SketchLayout, fam: SketchFamilies
) -> dict[str, Any]:
    """Latency of queries whose shortlist's full sketches are 65,536 values (256 KiB)."""
    names = [f"big-{n}" for n in fam.names]
    bulk_store(database, layout, names=names, values=fam.values, batch=200)
    prepare(database, layout)
    rng = np.random.default_rng(args.seed + 3)
    picks = [int(q) for q in rng.choice(np.arange(1, len(names)), 20, replace=False)]
    latencies = []
    for q in [picks[0], *picks]:
        t0 = time.perf_counter()
        found = find_relatives(database, names[q], top=args.top, base=names[0])
        latencies.append(time.perf_counter() - t0)
    latencies = latencies[1:]
    return {
        "models": len(names),
        "values_per_sketch": layout.num_values,
        "shortlist": found.shortlist,
        "relatives_ms_p50": round(percentile(latencies, 50) * 1000, 1),
        "relatives_ms_p95": round(percentile(latencies, 95) * 1000, 1),
        "rerank_bytes": found.shortlist * layout.num_values * 4,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--sketch-size", type=int, default=8_192)
    parser.add_argument("--block", type=int, default=16)
    parser.add_argument("--family-size", type=int, default=50)
    parser.add_argument("--undeclared", type=float, default=0.2)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--scan", type=int, default=10_000, help="Sketches the baseline reads.")
    parser.add_argument("--scan-queries", type=int, default=3)
    parser.add_argument("--default-models", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    args = parser.parse_args(argv)

    shapes = llama_shapes(7e9, hidden=4096)
    layout = make_plan(shapes, size=args.sketch_size, block=args.block)
    t0 = time.perf_counter()
    fam = sketch_families(args.models, layout.num_values, seed=args.seed,
                          family_size=args.family_size)  # fmt: skip
    edges = declared_edges(fam, args.undeclared, args.seed)
    log(f"generated {args.models:,} sketches of {layout.num_values:,} values in "
        f"{time.perf_counter() - t0:.0f} s, {len(edges):,} declared edges")  # fmt: skip
    small = None
    if args.default_models > 1:
        big = make_plan(shapes)
        small = (big, sketch_families(args.default_models, big.num_values, seed=args.seed + 9))
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    reports: dict[str, Any] = {}
    for backend in backends:
        log(f"{backend}:")
        if backend == "sqlite":
            scratch = Path(tempfile.mkdtemp(prefix="kinhub-bench-relatives-"))
            try:
                reports[backend] = measure(
                    f"sqlite:///{scratch / 'bench.db'}", args, layout, fam, edges, small
                )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        else:
            name = f"kinhub_bench_relatives_{uuid.uuid4().hex[:10]}"
            _pg(args.pg_admin, f'CREATE DATABASE "{name}"')
            try:
                url = make_url(args.pg_admin).set(database=name)
                reports[backend] = measure(
                    url.render_as_string(hide_password=False), args, layout, fam, edges, small
                )
            finally:
                _pg(args.pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(json.dumps(reports[backend]))
    print(json.dumps({"plan_values": layout.num_values, "backends": reports}, indent=2))
    return 0


def _pg(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
