"""A synthetic Hub genealogy at scale, for scripts/bench_queries.py: generate and bulk-load.

The shape of the Hub's merge world: a few hundred foundations in six architectures;
every later model a fine-tune, adapter or quantization of one parent, or a merge of
two or three ingredients of one architecture (with an anchor ``base`` for
task-vector methods), with several evidence sources per edge; parents drawn from
popular hubs (Zipf-weighted: the top hubs get thousands of children) or from the
recent models of the same family (deep merge chains); kinship rows for most merges
(ingredient pairs and child/ingredient edges) with their finished jobs, card
evaluations for one model in ten, an architecture signature per model.

Rows are tuples in the column order of ``COLUMNS``, loaded after the migrations
created the schema: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
