"""Query latency at Hub scale: ``lineage`` and ``partners`` on a generated genealogy.

    python scripts/bench_queries.py [--backend sqlite|postgresql|both] [--models 1000000]
                                    [--edges-per-model 3] [--roots 40] [--partner-roots 20]
                                    [--runs 5] [--skip lineage,hubs,partners]
                                    [--pg-admin URL] [--sqlite FILE] [--keep] [--measure-only]

Builds a synthetic genealogy with the shape of the Hub's merge world
(scripts/bench_genealogy.py), through the migrations (so the indexes measured are
the shipped ones) and then bulk inserts (COPY on PostgreSQL, ``executemany`` on SQLite):

* a few hundred foundations (``--foundations``) in six architectures;
* every later model is a fine-tune, adapter or quantization of one parent, or a
  merge of two or three ingredients of one architecture (with an anchor ``base``
  for task-vector methods), with several evidence sources per edge (recipe, card
  metadata, Hub tag) — about ``--edges-per-model`` edge rows per model;
* parents are drawn from *popular hubs* (Zipf-weighted: the top hubs get
  thousands of children) or from the recent models of the same family, which
  makes deep merge chains (merges of merges of merges);
* kinship rows for most merges (every ingredient pair against the anchor, and the
  child against each ingredient), each with its finished job, and card
  evaluations for one model in ten.

Then it times, per backend, on random roots (and once each on the 1st, 10th and
100th biggest hub, whose depth-10 lineage is most of a family):

* ``lineage`` — ``lineage_sql(direction="both", depth=10)`` in-process (query
  alone), and ``kinhub --db URL lineage X --both --depth 10 --format json`` in a
  subprocess (whole command);
* ``partners`` — ``kinhub.db.answers.partners.partner_candidates`` in-process, and
  ``kinhub --db URL partners X --compute none --format json`` in a subprocess;
  when that module is missing, the equivalent query shape (compatible models
  sharing an ancestor, joined with their kinship to X, ordered by pcc) is timed
  instead and the report says so.

Prints p50/p95 per measurement; progress goes to stderr.  A benchmark, not a test.
The PostgreSQL database (``kinhub_bench``) is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_genealogy import (
    HUB_RANKS,
    STAMP_PG,
    STAMP_SQLITE,
    Genealogy,
    generate,
    load_postgres,
    load_sqlite,
    log,
    repo,
    shape,
)
from kinhub.db.engine import open_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# ---------------------------------------------------------------- timing


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": p95 * 1000, "n": len(ordered)}


def time_calls(call: Callable[[str], Any], roots: list[str]) -> tuple[dict[str, float], list[Any]]:
    samples, results = [], []
    for root in roots:
        start = time.perf_counter()
        results.append(call(root))
        samples.append(time.perf_counter() - start)
    return percentiles(samples), results


def time_command(url: str, commands: list[list[str]]) -> dict[str, float]:
    """Wall time of ``kinhub --db URL <command>`` run in a fresh process, per command."""
    samples = []
    for argv in commands:
        cmd = [sys.executable, "-m", "kinhub.cli", "--db", url, *argv]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            log(f"command failed ({done.returncode}): {' '.join(cmd)}: {done.stderr.strip()}")
    return percentiles(samples)


def _partners_call(database: Any) -> tuple[str, Callable[[str], Any]]:
    try:
        from kinhub.db.answers.partners import partner_candidates  # type: ignore[attr-defined]
    except ImportError:
        return "equivalent query (kinhub.db.answers.partners missing)", _equivalent_partners(
            database
        )

    def call(root: str) -> Any:
        with database.session() as session:
            return partner_candidates(session, repo_id=root)

    return "kinhub.db.answers.partners.partner_candidates", call


_PARTNERS_SQL = """
WITH RECURSIVE up(id, depth) AS (
    SELECT CAST(:root AS INTEGER), 0
    UNION
    SELECT e.parent_id, up.depth + 1 FROM edge e JOIN up ON e.child_id = up.id
    WHERE up.depth < 10
),
ancestors AS (SELECT id, min(depth) AS depth FROM up WHERE id <> :root GROUP BY id),
kin AS (
    SELECT CASE WHEN k.model_a_id = :root THEN k.model_b_id ELSE k.model_a_id END AS other,
           k.pcc, k.base_id
    FROM kinship k WHERE k.model_a_id = :root AND k.pcc IS NOT NULL
    UNION ALL
    SELECT k.model_a_id, k.pcc, k.base_id
    FROM kinship k WHERE k.model_b_id = :root AND k.pcc IS NOT NULL
)
SELECT m.id, m.repo_id, kin.pcc, kin.base_id
FROM kin
JOIN model m ON m.id = kin.other
JOIN model r ON r.id = :root
WHERE m.model_type = r.model_type AND m.hidden_size = r.hidden_size
  AND m.num_layers = r.num_layers
  AND EXISTS (SELECT 1 FROM ancestors a WHERE a.id = kin.base_id)
ORDER BY kin.pcc ASC
LIMIT 10
"""


def _equivalent_partners(database: Any) -> Callable[[str], Any]:
    def call(root: str) -> Any:
        with database.session() as session:
            root_id = session.execute(
                text("SELECT id FROM model WHERE repo_id = :r"), {"r": root}
            ).scalar_one()
            return session.execute(text(_PARTNERS_SQL), {"root": root_id}).all()

    return call


def measure(
    url: str,
    data: Genealogy,
    *,
    roots: int,
    partner_roots_n: int,
    runs: int,
    seed: int,
    skip: set[str],
) -> dict[str, Any]:
    from kinhub.db.answers.lineage import lineage_sql

    rng = random.Random(seed)
    ids = rng.sample(range(1, len(data.models) + 1), roots)
    sample = [repo(i) for i in ids]
    merge_children = sorted({row[6] for row in data.jobs})  # repo ids of measured merges
    partner_roots = rng.sample(merge_children, partner_roots_n)
    hubs = [repo(i) for i in data.hubs]
    database = open_database(url)  # (migrates a kept database to the current head)
    report: dict[str, Any] = {"url": url.split("@")[-1]}

    def lineage(root: str) -> Any:
        with database.session() as session:
            return lineage_sql(session, root, direction="both", depth=10)

    try:
        if "lineage" not in skip:
            lineage(sample[0])  # warm the caches once
            stats, results = time_calls(lineage, sample)
            sizes = sorted(len(r.nodes) for r in results)
            report["lineage_query"] = {**stats, "nodes_p50": sizes[len(sizes) // 2]}
            log(f"lineage query: {report['lineage_query']}")
            argv = ["--both", "--depth", "10", "--format", "json"]
            commands = [["lineage", root, *argv] for root in sample[:runs]]
            report["lineage_command"] = time_command(url, commands)
            log(f"lineage command: {report['lineage_command']}")
            # What any command pays before its query: interpreter, imports, opening.
            report["startup_command"] = time_command(url, [["db", "info"]] * runs)
            log(f"kinhub db info (start-up baseline): {report['startup_command']}")
        if "hubs" not in skip:
            report["lineage_hubs"] = []
            for rank, hub, children in zip(HUB_RANKS, hubs, data.hub_children, strict=False):
                entry: dict[str, Any] = {"rank": rank + 1, "child_edges": children}
                start = time.perf_counter()
                try:
                    entry["nodes"] = len(lineage(hub).nodes)
                except Exception as exc:  # a failure at this size is a finding, not the end
                    entry["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                entry["ms"] = (time.perf_counter() - start) * 1000
                report["lineage_hubs"].append(entry)
                log(f"lineage of hub #{rank + 1}: {report['lineage_hubs'][-1]}")
        if "partners" not in skip:
            report.update(_measure_partners(url, database, partner_roots, runs=runs))
    finally:
        database.dispose()
    return report


def _measure_partners(
    url: str, database: Any, partner_roots: list[str], *, runs: int
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    what, partners = _partners_call(database)
    try:
        start = time.perf_counter()
        partners(partner_roots[0])
        log(f"partners warm-up call: {time.perf_counter() - start:.2f} s")
    except Exception as exc:  # their module is work in progress: say so, time the shape
        log(f"{what} failed ({exc!r:.300}); timing the equivalent query instead")
        what = f"equivalent query ({what} raised {type(exc).__name__})"
        partners = _equivalent_partners(database)
        partners(partner_roots[0])
    report["partners_function"] = what
    stats, _results = time_calls(partners, partner_roots)
    report["partners_query"] = stats
    log(f"partners query ({what}): {stats}")
    if what.startswith("kinhub.db.answers.partners"):
        argv = ["--compute", "none", "--format", "json"]
        commands = [["partners", root, *argv] for root in partner_roots[:runs]]
        report["partners_command"] = time_command(url, commands)
        log(f"partners command: {report['partners_command']}")
    return report


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--foundations", type=int, default=300)
    parser.add_argument("--edges-per-model", type=float, default=3.0)
    parser.add_argument("--roots", type=int, default=40, help="roots timed in-process")
    parser.add_argument("--partner-roots", type=int, default=20, help="merges timed (partners)")
    parser.add_argument("--runs", type=int, default=5, help="roots timed as a subprocess")
    parser.add_argument("--skip", default="", help="comma-separated: lineage,hubs,partners")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "KINHUB_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--pg-name", default="kinhub_bench")
    parser.add_argument("--sqlite", type=Path, default=None, help="SQLite file (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time a database kept by an earlier run with the same --models/--seed",
    )
    args = parser.parse_args(argv)

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    reports: dict[str, Any] = {}
    scratch: Path | None = None  # the temporary folder of a SQLite database without --sqlite
    for backend in backends:
        stamp = STAMP_SQLITE if backend == "sqlite" else STAMP_PG
        start = time.perf_counter()
        data = generate(
            models=args.models,
            foundations=args.foundations,
            edges_per_model=args.edges_per_model,
            seed=args.seed,
            stamp=stamp,
        )
        log(f"generated in {time.perf_counter() - start:.0f} s: {shape(data)}")
        if args.measure_only:
            url = _url(args, backend)
            _add_missing_signatures(url, data)
        elif backend == "sqlite":
            if args.sqlite is None:
                scratch = Path(tempfile.mkdtemp(prefix="kinhub-bench-queries-"))
            path = args.sqlite or scratch / "bench.db"
            path.unlink(missing_ok=True)
            url = f"sqlite:///{path}"
            open_database(url).dispose()  # the migrations create the schema and indexes
            load_sqlite(path, data)
        else:
            url = (
                make_url(args.pg_admin)
                .set(database=args.pg_name)
                .render_as_string(hide_password=False)
            )
            _pg_admin(args.pg_admin, f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)')
            _pg_admin(args.pg_admin, f'CREATE DATABASE "{args.pg_name}"')
            open_database(url).dispose()
            load_postgres(url, data)
        done = "regenerated" if args.measure_only else "built"
        log(f"{backend}: {done} in {time.perf_counter() - start:.0f} s")
        try:
            reports[backend] = {
                "shape": shape(data),
                "build_seconds": round(time.perf_counter() - start),
                **measure(
                    url,
                    data,
                    roots=args.roots,
                    partner_roots_n=args.partner_roots,
                    runs=args.runs,
                    seed=args.seed,
                    skip=set(filter(None, args.skip.split(","))),
                ),
            }
        finally:
            if not args.keep:
                if backend == "postgresql":
                    _pg_admin(
                        args.pg_admin, f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)'
                    )
                elif scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)
            elif backend == "sqlite":
                log(f"kept {url}")
        del data
    print(json.dumps(reports, indent=2))
    return 0


def _add_missing_signatures(url: str, data: Genealogy) -> None:
    """Databases built before signatures were generated get them now."""
    database = open_database(url)
    try:
        with database.session() as session:
            if session.execute(text("SELECT count(*) FROM arch_signature")).scalar_one():
                return
    finally:
        database.dispose()
    if url.startswith("sqlite"):
        load_sqlite(Path(url.removeprefix("sqlite:///")), data, only={"arch_signature"})
    else:
        load_postgres(url, data, only={"arch_signature"})


def _url(args: argparse.Namespace, backend: str) -> str:
    if backend == "sqlite":
        if args.sqlite is None:
            raise SystemExit("--measure-only on SQLite needs --sqlite FILE")
        return f"sqlite:///{args.sqlite}"
    return make_url(args.pg_admin).set(database=args.pg_name).render_as_string(hide_password=False)


def _pg_admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
