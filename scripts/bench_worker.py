"""Kinship worker throughput: jobs per hour and bytes per job, exact versus sampled.

A generated family (a base and ``--models`` fine-tunes of a small llama, bf16) is
served by the Hub emulator with ``--latency-ms`` added to every request and every
response body sent at most ``--bandwidth-mbps`` megabytes per second.  The same
pair jobs (every two fine-tunes against the base) are queued in a fresh SQLite
database for each mode; one worker (``kinhub.pipeline.worker.Worker``, the loop
``kinhub worker`` runs) drains them with an empty HF cache.  Reported per mode:
jobs, wall seconds, jobs per hour, bytes the Hub sent per job (emulator counters:
downloads and Range reads), bytes the engine read per job, Hub requests per job.

Exact mode downloads each model once and reuses the cache, so its Hub bytes per job
fall as more jobs share models; sampled mode reads ``--sample`` of every tensor per
job by HTTP Range and never downloads a weights file.

    python scripts/bench_worker.py [--models 6] [--latency-ms 20] [--bandwidth-mbps 50]
        [--sample 0.02] [--plan pro] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kinhub.db.engine import open_database
from kinhub.db.jobs.keys import JobTarget, enqueue
from kinhub.hub.ratelimit import PLAN_QUOTAS, Plan
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.emulator import HubEmulator
from kinhub.sandbox.tensors import Arch, base_state, finetune
from kinhub.sandbox.weights import save_model

ARCH = Arch(vocab=8192, hidden=384, layers=4, intermediate=1024)


def make_hub(root: Path, *, models: int) -> list[str]:
    base = base_state(ARCH, seed=0)
    cfg = ARCH.config(dtype="bfloat16")
    save_model(base, root / "bench" / "base", config=cfg, dtype="bf16")
    ids = []
    for i in range(models):
        state = finetune(base, seed=1 + i, shared_seed=100, rho=0.5)
        save_model(state, root / "bench" / f"ft{i:02d}", config=cfg, dtype="bf16")
        ids.append(f"bench/ft{i:02d}")
    return ids


def run_mode(
    mode: str, *, root: Path, ids: list[str], work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    os.environ["HF_HOME"] = str(work / f"hf-{mode}")
    database = open_database(f"sqlite:///{work / f'{mode}.db'}")
    targets = [
        JobTarget(kind="pair", model_a=a, model_b=b, base="bench/base")
        for a, b in itertools.combinations(ids, 2)
    ]
    with database.write_transaction() as session:
        enqueue(session, targets)
    try:
        # Plan quotas are huggingface.co's: the emulator enforces them itself here (the
        # client keeps none for a non-Hub endpoint and obeys the emulator's headers).
        api_quota, resolve_quota = PLAN_QUOTAS[Plan(args.plan)]
        with HubEmulator(
            root,
            latency_ms=args.latency_ms,
            bandwidth_bps=args.bandwidth_mbps * 1e6,
            rate_limit=api_quota,
            rate_quotas={"resolve": resolve_quota},
        ) as emu:
            settings = WorkerSettings(
                mode=mode, sample=args.sample, endpoint=emu.url, plan=args.plan
            )
            t0 = time.perf_counter()
            report = Worker(database, settings).run(until_empty=True)
            seconds = time.perf_counter() - t0
            served = emu.stats()
    finally:
        database.dispose()
    jobs = report.done
    hub_bytes = sum(served["bytes"].values())
    requests = sum(served["requests"].values())
    return {
        "mode": mode,
        "jobs": jobs,
        "failed": report.failed,
        "seconds": round(seconds, 2),
        "jobs_per_hour": round(jobs / seconds * 3600) if seconds else None,
        "hub_bytes_per_job": round(hub_bytes / jobs) if jobs else None,
        "engine_bytes_per_job": round(report.bytes_read / jobs) if jobs else None,
        "hub_requests_per_job": round(requests / jobs, 1) if jobs else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6, help="fine-tunes (jobs: n*(n-1)/2)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--bandwidth-mbps", type=float, default=50.0, help="MB/s per response")
    parser.add_argument("--sample", type=float, default=0.02)
    parser.add_argument("--plan", default="pro", choices=["anonymous", "free", "pro"])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    with tempfile.TemporaryDirectory(prefix="kinhub-bench-worker-") as tmp:
        work = Path(tmp)
        root = work / "hub"
        ids = make_hub(root, models=args.models)
        model_bytes = sum(f.stat().st_size for f in (root / "bench" / "base").glob("*"))
        rows = [run_mode(m, root=root, ids=ids, work=work, args=args) for m in ("exact", "sampled")]
    doc = {
        "params": ARCH.num_params(),
        "model_bytes": model_bytes,
        "latency_ms": args.latency_ms,
        "bandwidth_mbps": args.bandwidth_mbps,
        "sample": args.sample,
        "plan": args.plan,
        "results": rows,
    }
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(
        f"{args.models} fine-tunes + base, {ARCH.num_params():,} params, {model_bytes:,} bytes "
        f"each; latency {args.latency_ms:g} ms, {args.bandwidth_mbps:g} MB/s, "
        f"sample {args.sample:g}, plan {args.plan}"
    )
    header = f"{'mode':8} {'jobs':>5} {'seconds':>8} {'jobs/h':>8} {'hub B/job':>12} "
    print(header + f"{'engine B/job':>13} {'req/job':>8}")
    for r in rows:
        print(
            f"{r['mode']:8} {r['jobs']:>5} {r['seconds']:>8} {r['jobs_per_hour']:>8} "
            f"{r['hub_bytes_per_job']:>12,} {r['engine_bytes_per_job']:>13,} "
            f"{r['hub_requests_per_job']:>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
