"""Memory and time of a whole-genealogy export, on a generated database of N models.

    python scripts/bench_export.py [--models 1000000] [--text-kb 8] [--formats graphml,gexf]
                                   [--db FILE] [--keep]

Builds (or reuses, with ``--db``) a SQLite database of ``--models`` models in
generations: each model after the first hundred has one to three parents among
earlier models (fine-tunes and merges), every merge has a recipe whose raw text
is ``--text-kb`` KB (so card texts dominate the database) and two evaluations,
and one edge in ten carries a kinship row.  Rows are written with bulk inserts
(the store's per-model upsert would take hours at this size), through the ORM's
own tables, after the database was created by the migrations.

Then each format is exported to a file in a child process (``kinhub export``
itself), and its peak resident memory (``ru_maxrss``) and wall time are printed,
next to the size of the recipe texts in the database.  Memory should stay flat as
``--models`` grows 10×, and far below the text volume.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kinhub.db.engine import open_database
from kinhub.db.models import Edge, Evaluation, Kinship, Model, Recipe
from kinhub.db.timeutil import utcnow
from sqlalchemy import func, insert, select

BATCH = 20_000


def build(path: Path, *, models: int, text_kb: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    database = open_database(f"sqlite:///{path}")
    now = utcnow()
    text = ("models:\n  - model: org/x\n    parameters: {weight: 0.5}\n" * 400)[: text_kb * 1024]
    with database.engine.begin() as conn:
        for start in range(1, models + 1, BATCH):
            ids = range(start, min(models, start + BATCH - 1) + 1)
            conn.execute(
                insert(Model),
                [
                    {
                        "id": i,
                        "repo_id": f"org{i % 997}/model-{i:07d}",
                        "sha": f"{i:040x}",
                        "status": "ok",
                        "tags": ["merge"] if i % 3 == 0 else [],
                        "license": rng.choice(("apache-2.0", "mit", "cc-by-nc-4.0", None)),
                        "architectures": ["LlamaForCausalLM"],
                        "model_type": "llama",
                        "num_parameters": 1_000_000_000,
                        "downloads": rng.randrange(0, 100_000),
                        "likes": rng.randrange(0, 500),
                        "private": False,
                        "first_seen": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            edges, recipes, evaluations, kinship = [], [], [], []
            for i in ids:
                if i <= 100:
                    continue
                merge = i % 3 == 0
                parents = rng.sample(range(1, i), 3 if merge else 1)
                for n, parent in enumerate(parents):
                    edges.append(
                        {
                            "child_id": i,
                            "parent_id": parent,
                            "relation": "merge" if merge else "finetune",
                            "role": ("base" if n == 0 else "ingredient") if merge else "parent",
                            "source": "mergekit_config" if merge else "card_metadata",
                            "parameters": {"weight": 0.5} if merge and n else {},
                        }
                    )
                    if merge and n and rng.random() < 0.1:
                        kinship.append(
                            {
                                "pair_key": f"{i:032x}{parent:032x}",
                                "model_a": f"a{i}",
                                "model_b": f"b{parent}",
                                "base": f"c{parents[0]}",
                                "model_a_id": i,
                                "model_b_id": parent,
                                "base_id": parents[0],
                                "cs": rng.random(),
                                "pcc": rng.random(),
                                "ed": rng.random() * 10,
                                "extra": {},
                                "intervals": {},
                                "breakdown": {},
                                "dropped": {},
                                "computed_at": now,
                            }
                        )
                if merge:
                    recipes.append(
                        {
                            "model_id": i,
                            "source": "mergekit_config",
                            "merge_method": rng.choice(("ties", "dare_ties", "slerp")),
                            "stages": [],
                            "warnings": [],
                            "raw_text": text,
                        }
                    )
                    evaluations += [
                        {"model_id": i, "task": "t", "dataset": d, "metric": "acc", "value": v}
                        for d, v in (("ARC", rng.random()), ("MMLU", rng.random()))
                    ]
            for table, rows in (
                (Edge, edges),
                (Recipe, recipes),
                (Evaluation, evaluations),
                (Kinship, kinship),
            ):
                if rows:
                    conn.execute(insert(table), rows)
            print(f"  {ids[-1]:,} models written", file=sys.stderr, flush=True)
    database.dispose()


def measure(db: Path, fmt: str, out: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of ``kinhub export --format fmt`` in a child process."""
    code = (
        "import resource, sys\n"
        "from kinhub.cli.app import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "else:\n"
        "    code = 0\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    args = ["--db", f"sqlite:///{db}", "export", "--format", fmt, "-o", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--text-kb", type=int, default=8)
    parser.add_argument("--formats", default="graphml,gexf,json,dot")
    parser.add_argument("--db", type=Path, help="Reuse (or create) this database file.")
    parser.add_argument("--keep", action="store_true", help="Keep the exported files.")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kinhub-bench-export-"))
    db = args.db or folder / "bench.db"
    if not db.exists():
        started = time.perf_counter()
        build(db, models=args.models, text_kb=args.text_kb)
        print(f"built {db} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    database = open_database(f"sqlite:///{db}")
    with database.engine.connect() as conn:
        n_models = conn.execute(select(func.count()).select_from(Model)).scalar_one()
        n_edges = conn.execute(select(func.count()).select_from(Edge)).scalar_one()
        text_mb = conn.execute(select(func.sum(func.length(Recipe.raw_text)))).scalar_one()
    database.dispose()
    print(
        f"database: {n_models:,} models, {n_edges:,} edge rows, recipe texts "
        f"{(text_mb or 0) / 2**20:,.0f} MB, file {db.stat().st_size / 2**20:,.0f} MB"
    )
    for fmt in args.formats.split(","):
        out = folder / f"export.{fmt}"
        seconds, peak = measure(db, fmt, out)
        print(
            f"{fmt:8s} {seconds:7.1f} s  peak RSS {peak:6.0f} MB  "
            f"file {out.stat().st_size / 2**20:7.0f} MB"
        )
        if not args.keep:
            out.unlink()
    print("(peak RSS is the child's ru_maxrss: interpreter and imports included)")


if __name__ == "__main__":
    main()
