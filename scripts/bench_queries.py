"""Query latency at Hub scale: ``lineage`` and ``partners`` on a generated genealogy.

    python scripts/bench_queries.py [--backend sqlite|postgresql|both] [--models 1000000]
                                    [--edges-per-model 3] [--roots 40] [--runs 5]
                                    [--pg-admin URL] [--sqlite FILE] [--keep]

Builds a synthetic genealogy with the shape of the Hub's merge world, through the
migrations (so the indexes measured are the shipped ones) and then bulk inserts
(COPY on PostgreSQL, ``executemany`` on SQLite):

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
* ``partners`` — ``kinhub.db.partners.partner_candidates`` in-process, and
  ``kinhub --db URL partners X --compute none --format json`` in a subprocess;
  when that module is missing, the equivalent query shape (compatible models
  sharing an ancestor, joined with their kinship to X, ordered by pcc) is timed
  instead and the report says so.

Prints p50/p95 per measurement; progress goes to stderr.  A benchmark, not a test.
The PostgreSQL database (``kinhub_bench``) is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinhub.db.engine import open_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ARCHS = (
    ("llama", "LlamaForCausalLM", 4096, 32, 32000),
    ("mistral", "MistralForCausalLM", 4096, 32, 32768),
    ("qwen2", "Qwen2ForCausalLM", 3584, 28, 152064),
    ("gemma2", "Gemma2ForCausalLM", 3584, 42, 256000),
    ("phi3", "Phi3ForCausalLM", 3072, 32, 32064),
    ("llama", "LlamaForCausalLM", 8192, 80, 128256),
)
LICENSES = ("apache-2.0", "mit", "llama3", "cc-by-nc-4.0", "other")
BENCHMARKS = ("arc_challenge", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k")
HUB_RANKS = (0, 9, 99)
STAMP_SQLITE = "2026-01-01 00:00:00.000000"
STAMP_PG = "2026-01-01 00:00:00+00"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- generation


@dataclass
class Genealogy:
    """Rows to insert, as tuples in the column order of ``COLUMNS``."""

    models: list[tuple[Any, ...]] = field(default_factory=list)
    edges: list[tuple[Any, ...]] = field(default_factory=list)
    kinship: list[tuple[Any, ...]] = field(default_factory=list)
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    evaluations: list[tuple[Any, ...]] = field(default_factory=list)
    signatures: list[tuple[Any, ...]] = field(default_factory=list)
    hubs: list[int] = field(default_factory=list)
    hub_children: list[int] = field(default_factory=list)


COLUMNS = {
    "model": [
        "id",
        "repo_id",
        "sha",
        "status",
        "tags",
        "license",
        "architectures",
        "model_type",
        "hidden_size",
        "num_layers",
        "vocab_size",
        "num_parameters",
        "downloads",
        "likes",
        "private",
        "first_seen",
        "updated_at",
    ],
    "edge": ["id", "child_id", "parent_id", "relation", "role", "source", "parameters"],
    "kinship": [
        "id",
        "pair_key",
        "model_a",
        "model_b",
        "base",
        "model_a_id",
        "model_b_id",
        "base_id",
        "mode",
        "convention",
        "cs",
        "pcc",
        "ed",
        "extra",
        "intervals",
        "params_compared",
        "bytes_read",
        "seconds",
        "breakdown",
        "dropped",
        "computed_at",
    ],
    "kinship_job": [
        "id",
        "job_key",
        "kind",
        "model_a",
        "model_b",
        "base",
        "child",
        "priority",
        "status",
        "attempts",
        "mode",
        "kinship_id",
        "created_at",
        "updated_at",
        "finished_at",
    ],
    "evaluation": ["id", "model_id", "task", "dataset", "metric", "value"],
    "arch_signature": [
        "id",
        "model_id",
        "revision",
        "signature",
        "exact",
        "model_type",
        "num_layers",
        "hidden_size",
        "vocab_size",
        "dtype",
        "num_tensors",
        "num_parameters",
        "source",
        "computed_at",
    ],
}


def repo(i: int) -> str:
    return f"org{i % 40_000:05d}/model-{i:07d}"


def generate(
    *, models: int, foundations: int, edges_per_model: float, seed: int, stamp: str
) -> Genealogy:
    """A genealogy of ``models`` models; ids are 1..models in creation order."""
    rng = random.Random(seed)
    out = Genealogy()
    family_of = [0] * (models + 1)
    recent: list[list[int]] = [[] for _ in range(foundations)]  # per family, a window
    window = 400
    hubs: list[int] = []  # popular models, Zipf-weighted by rank (index)
    hub_cum: list[float] = []
    edge_id = itertools.count(1)
    kin_id = itertools.count(1)
    eval_id = itertools.count(1)
    # Extra evidence per edge (metadata, tag) tunes the edge count to --edges-per-model
    # (without it the shape below makes about 1.57 edges per model).
    dup = max(0.0, min(1.0, edges_per_model / 1.57 - 1))

    def add_hub(i: int) -> None:
        hubs.append(i)
        hub_cum.append((hub_cum[-1] if hub_cum else 0.0) + 1.0 / len(hubs) ** 0.9)

    def pick_hub() -> int:
        return hubs[bisect.bisect(hub_cum, rng.random() * hub_cum[-1])]

    def pick_in(family: int) -> int:
        members = recent[family]
        return rng.choice(members) if members else family + 1

    def edge(child: int, parent: int, relation: str, role: str, source: str, params: str) -> None:
        out.edges.append((next(edge_id), child, parent, relation, role, source, params))

    def kin(a: int, b: int, base: int, kind: str, child: int) -> None:
        k = next(kin_id)
        pcc = rng.betavariate(8, 2)
        a_ref, b_ref = (a, b) if repo(a) < repo(b) else (b, a)
        out.kinship.append(
            (
                k,
                f"{k:064x}",
                repo(a_ref),
                repo(b_ref),
                repo(base),
                a_ref,
                b_ref,
                base,
                "exact",
                "native",
                pcc + rng.gauss(0, 0.01),
                pcc,
                50 * (1 - pcc),
                "{}",
                "{}",
                7_241_732_096,
                14_483_464_192,
                60.0,
                "{}",
                "{}",
                stamp,
            )
        )
        out.jobs.append(
            (
                k,
                f"{k:064x}",
                kind,
                repo(a_ref),
                repo(b_ref),
                repo(base),
                repo(child),
                0,
                "done",
                1,
                "exact",
                k,
                stamp,
                stamp,
                stamp,
            )
        )

    for i in range(1, models + 1):
        if i <= foundations:
            family_of[i] = i - 1
            arch = ARCHS[(i - 1) % len(ARCHS)]
            out.models.append(_model_row(i, arch, rng, stamp))
            out.signatures.append(_signature_row(i, arch, stamp))
            recent[i - 1].append(i)
            add_hub(i)
            continue
        roll = rng.random()
        first = pick_hub() if rng.random() < 0.45 else pick_in(family_of[pick_hub()])
        family = family_of[first]
        family_of[i] = family
        if roll < 0.50:  # fine-tune
            edge(i, first, "finetune", "parent", "card_metadata", "{}")
            if rng.random() < dup:
                edge(i, first, "finetune", "parent", "hub_tag", "{}")
        elif roll < 0.62:  # adapter / quantization
            relation = "adapter" if roll < 0.57 else "quantized"
            edge(i, first, relation, "parent", "hub_tag", "{}")
            if rng.random() < dup:
                edge(i, first, relation, "parent", "card_metadata", "{}")
        else:  # merge of 2–3 ingredients of one family, often with an anchor
            ingredients = {first, pick_in(family)}
            if rng.random() < 0.2:
                ingredients.add(pick_in(family))
            anchored = rng.random() < 0.6
            anchor = family + 1 if anchored else None
            ingredients.discard(anchor or 0)
            for parent in ingredients:
                edge(i, parent, "merge", "ingredient", "mergekit_config", '{"weight": 0.5}')
                if rng.random() < dup:
                    edge(i, parent, "merge", "parent", "card_metadata", "{}")
            if anchor is not None:
                edge(i, anchor, "merge", "base", "mergekit_config", "{}")
                if rng.random() < dup:
                    edge(i, anchor, "merge", "parent", "hub_tag", "{}")
            if rng.random() < 0.75:
                base = anchor if anchor is not None else family + 1
                for a, b in itertools.combinations(sorted(ingredients), 2):
                    kin(a, b, base, "pair", i)
                for parent in ingredients:
                    kin(i, parent, base, "edge", i)
        arch = ARCHS[family % len(ARCHS)]
        out.models.append(_model_row(i, arch, rng, stamp))
        out.signatures.append(_signature_row(i, arch, stamp))
        members = recent[family]
        members.append(i)
        if len(members) > window:
            members[rng.randrange(window)] = members.pop()
        if rng.random() < 0.003:
            add_hub(i)
        if rng.random() < 0.1:
            for bench in rng.sample(BENCHMARKS, 4):
                value = round(rng.uniform(30, 85), 2)
                out.evaluations.append((next(eval_id), i, "text-generation", bench, "acc", value))
        if i % 200_000 == 0:
            log(f"generated {i:,} models, {len(out.edges):,} edges")
    # Hubs by their number of child edges: the biggest, the 10th and the 100th.
    children: dict[int, int] = {}
    for row in out.edges:
        children[row[2]] = children.get(row[2], 0) + 1
    ranked = sorted(children, key=lambda node: -children[node])
    out.hubs = [ranked[r] for r in HUB_RANKS if r < len(ranked)]
    out.hub_children = [children[h] for h in out.hubs]
    return out


def _signature_row(i: int, arch: tuple[Any, ...], stamp: str) -> tuple[Any, ...]:
    """The architecture signature of model ``i`` at its sha: one per architecture, as
    ``partners`` reads it (so no command asks the Hub for safetensors headers)."""
    model_type, _architecture, hidden, layers, vocab = arch
    signature = f"{ARCHS.index(arch):064x}"
    exact = f"{ARCHS.index(arch):032x}{vocab:032x}"
    return (
        i,
        i,
        f"{i:040x}",
        signature,
        exact,
        model_type,
        layers,
        hidden,
        vocab,
        "bfloat16",
        291,
        7_241_732_096,
        "range",
        stamp,
    )


def _model_row(i: int, arch: tuple[Any, ...], rng: random.Random, stamp: str) -> tuple[Any, ...]:
    model_type, architecture, hidden, layers, vocab = arch
    return (
        i,
        repo(i),
        f"{i:040x}",
        "ok",
        "[]",
        rng.choice(LICENSES),
        json.dumps([architecture]),
        model_type,
        hidden,
        layers,
        vocab,
        7_241_732_096,
        int(rng.paretovariate(1.2)),
        rng.randrange(50),
        False,
        stamp,
        stamp,
    )


# ---------------------------------------------------------------- loading


def _tables(data: Genealogy) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    yield "model", data.models
    yield "edge", data.edges
    yield "kinship", data.kinship
    yield "kinship_job", data.jobs
    yield "evaluation", data.evaluations
    yield "arch_signature", data.signatures


def load_sqlite(path: Path, data: Genealogy, *, only: set[str] | None = None) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    # Random-order index inserts thrash SQLite's default 2 MB page cache.
    conn.execute("PRAGMA cache_size=-2000000")
    for table, rows in _tables(data):
        if only is not None and table not in only:
            continue
        cols = COLUMNS[table]
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        start = time.perf_counter()
        for offset in range(0, len(rows), 100_000):
            conn.executemany(sql, rows[offset : offset + 100_000])
            conn.commit()
        log(f"sqlite: {table} {len(rows):,} rows in {time.perf_counter() - start:.0f} s")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def load_postgres(url: str, data: Genealogy, *, only: set[str] | None = None) -> None:
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        for table, rows in _tables(data):
            if only is not None and table not in only:
                continue
            cols = COLUMNS[table]
            start = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            conn.commit()
            log(f"postgresql: {table} {len(rows):,} rows in {time.perf_counter() - start:.0f} s")
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


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
        from kinhub.db.partners import partner_candidates  # type: ignore[attr-defined]
    except ImportError:
        return "equivalent query (kinhub.db.partners missing)", _equivalent_partners(database)

    def call(root: str) -> Any:
        with database.session() as session:
            return partner_candidates(session, repo_id=root)

    return "kinhub.db.partners.partner_candidates", call


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
    from kinhub.db.lineage import lineage_sql

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
    if what.startswith("kinhub.db.partners"):
        argv = ["--compute", "none", "--format", "json"]
        commands = [["partners", root, *argv] for root in partner_roots[:runs]]
        report["partners_command"] = time_command(url, commands)
        log(f"partners command: {report['partners_command']}")
    return report


# ---------------------------------------------------------------- main


def shape(data: Genealogy) -> dict[str, Any]:
    children: dict[int, int] = {}
    for row in data.edges:
        children[row[2]] = children.get(row[2], 0) + 1
    top = sorted(children.values(), reverse=True)
    return {
        "models": len(data.models),
        "edges": len(data.edges),
        "kinship_rows": len(data.kinship),
        "evaluations": len(data.evaluations),
        "top_hub_child_edges": top[:5],
        "parents_with_1000_plus_child_edges": sum(1 for n in top if n >= 1000),
    }


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
