"""Kinship jobs and database size for wide recipes, with the per-merge pair cap.

    python scripts/bench_job_caps.py [--sizes 10,100,2000] [--max-pair-jobs 100]

For each size N, a fresh SQLite database gets a base, N ingredient models and one
merge whose recipe names the N ingredients with falling weights (through
``kinhub.db.store.upsert_model``, as a crawl writes them), then
``kinhub.db.jobs.plan.enqueue_for_models`` queues its jobs, as the crawl's write
hook does.  Printed per N: the jobs the uncapped rule would queue (computed,
N·(N−1)/2 pairs + N edges, never stored: at N = 2,000 that is ~2,001,000 rows), the
jobs queued with the cap, the database size (after a WAL checkpoint), the time to
plan and the peak RSS of this process.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from kinhub.db.engine import open_database
from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.models import KinshipJob
from kinhub.db.records import EdgeRecord, ModelRecord
from kinhub.db.store import upsert_model
from sqlalchemy import func
from sqlmodel import col, select

SHA = "0" * 40


def _records(n: int) -> list[ModelRecord]:
    names = [f"wide/ingredient-{i:05d}" for i in range(n)]
    edges = [
        EdgeRecord(parent="wide/base", relation="merge", role="base", source="mergekit_config")
    ]
    edges += [
        EdgeRecord(
            parent=name,
            relation="merge",
            role="ingredient",
            source="mergekit_config",
            parameters={"weight": round(1.0 - i / (2 * n), 6)},
        )
        for i, name in enumerate(names)
    ]
    models = [ModelRecord(repo_id="wide/base", sha=SHA)]
    models += [ModelRecord(repo_id=name, sha=SHA) for name in names]
    return [*models, ModelRecord(repo_id="wide/merge", sha=SHA, edges=edges)]


def measure(n: int, *, max_pair_jobs: int, folder: Path) -> dict[str, float | int]:
    path = folder / f"wide-{n}.db"
    database = open_database(f"sqlite:///{path}")
    try:
        with database.session() as session:
            for record in _records(n):
                upsert_model(session, record)
        started = time.perf_counter()
        with database.session() as session:
            queued = enqueue_for_models(session, ["wide/merge"], max_pair_jobs=max_pair_jobs)
        seconds = time.perf_counter() - started
        with database.session() as session:
            kinds = dict(
                session.exec(
                    select(KinshipJob.kind, func.count(col(KinshipJob.id))).group_by(
                        col(KinshipJob.kind)
                    )
                ).all()
            )
    finally:
        database.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {
        "ingredients": n,
        "uncapped_jobs": n * (n - 1) // 2 + n,
        "jobs": queued.inserted,
        "pair_jobs": kinds.get("pair", 0),
        "edge_jobs": kinds.get("edge", 0),
        "db_mb": round(path.stat().st_size / 1e6, 2),
        "plan_s": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,2000")
    parser.add_argument("--max-pair-jobs", type=int, default=DEFAULT_MAX_PAIR_JOBS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    columns = [
        "ingredients",
        "uncapped_jobs",
        "jobs",
        "pair_jobs",
        "edge_jobs",
        "db_mb",
        "plan_s",
        "peak_rss_mb",
    ]
    print(" | ".join(columns))
    with tempfile.TemporaryDirectory(prefix="kinhub-bench-caps-") as tmp:
        for n in sizes:
            row = measure(n, max_pair_jobs=args.max_pair_jobs, folder=Path(tmp))
            print(" | ".join(str(row[c]) for c in columns), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
