"""Benchmark: per-model sketches vs per-job sampling vs the exact engine, over real HTTP.

Generates a family of sharded bf16 llama-shaped models (a base and ``--models``
fine-tunes with fine-tune-like deltas sharing one direction in different measure, so
pairwise cosines spread over 0.1–0.9), serves it with the Hub emulator with latency
and a bandwidth limit (and the CDN hop), and measures:

* sketches: per model the bytes read (against its weight bytes), resolver and CDN
  requests, time; then every pair of the family answered from the stored sketches
  (total time, Hub requests: none);
* the exact engine on every pair (local files), and |sketch − exact| for cs and pcc
  with the sketch's 95% interval's coverage;
* today's per-job sampled mode (``--sample`` over HTTP) on ``--sampled-pairs`` pairs:
  time, bytes, requests and error per pair;
* total cost as the family grows (sketches: linear in models; per-job reads:
  quadratic in pairs), and a projection for sketching ``--project-models`` 7B merges on
  the free and PRO quotas at ``--project-bandwidth``.

    python scripts/bench_sketch.py --models 8 --params 1e9

Prints one JSON document (and a Markdown summary on stderr).  Files are deleted
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from kinhub.db.engine import open_database  # noqa: E402
from kinhub.hub import shared  # noqa: E402
from kinhub.hub.client import HubClient  # noqa: E402
from kinhub.hub.ratelimit import RateLimits  # noqa: E402
from kinhub.kinship.engine import compute_kinship  # noqa: E402
from kinhub.kinship.sketch import sketch_model  # noqa: E402
from kinhub.kinship.sketch_plan import make_plan  # noqa: E402
from kinhub.kinship.sketch_service import measure_from_sketches  # noqa: E402
from kinhub.sandbox.emulator import HubEmulator  # noqa: E402
from kinhub.sandbox.tensors import llama_shapes  # noqa: E402
from kinhub.sandbox.weights import plan_shards, shard_name  # noqa: E402

ORG = "bench"
# Hub quotas per 5-minute window (HUB_PROTOCOL.md): API calls and resolver requests.
QUOTAS = {"free": {"api": 1000, "resolve": 5000}, "pro": {"api": 2500, "resolve": 12000}}
_SHIFT = 7919  # offset between two models' noise windows (elements)
SEVEN_B = {"params": 6.74e9, "bytes": 13.5e9, "files": 3}  # llama-2-7b-like, bf16, 3 shards


def write_family(
    root: Path, shapes: dict[str, tuple[int, ...]], rhos: list[float], *, shard_bytes: int
) -> list[str]:
    """``bench/base`` and ``bench/mNN`` (θ = base + 0.002·(√ρ·shared + √(1−ρ)·noise)),
    every file written tensor by tensor in one pass (base and shared drawn once)."""
    names = ["base", *(f"m{i:02d}" for i in range(len(rhos)))]
    folders = {n: root / ORG / n for n in names}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "torch_dtype": "bfloat16",
    }
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
        (f / "config.json").write_text(json.dumps(config))
    sizes = [(k, math.prod(s) * 2) for k, s in shapes.items()]
    runs = plan_shards(sizes, max_shard_bytes=shard_bytes)
    weight_map: dict[str, str] = {}
    rng = np.random.default_rng(0)
    for index, run in enumerate(runs):
        fname = shard_name("model", index, len(runs))
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        off = 0
        for k in run:
            n = math.prod(shapes[k]) * 2
            header[k] = {"dtype": "BF16", "shape": list(shapes[k]), "data_offsets": [off, off + n]}
            off += n
            weight_map[k] = fname
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        handles = {n: (folders[n] / fname).open("wb") for n in names}
        try:
            for h in handles.values():
                h.write(struct.pack("<Q", len(raw)) + raw)
            for k in run:
                shape = shapes[k]
                numel = math.prod(shape)
                base = rng.standard_normal(numel, dtype=np.float32) * np.float32(0.02)
                shared = rng.standard_normal(numel, dtype=np.float32)
                # Each model's own noise is a window of one pool at its own offset: the
                # same coordinate of two models holds two different pool draws, which is
                # all cs/pcc see, for one draw per element instead of one per model.
                pool = rng.standard_normal(numel + len(rhos) * _SHIFT, dtype=np.float32)
                for name in names:
                    if name == "base":
                        t = base
                    else:
                        i = int(name[1:])
                        rho = rhos[i]
                        noise = pool[i * _SHIFT : i * _SHIFT + numel]
                        delta = np.float32(math.sqrt(rho)) * shared
                        delta += np.float32(math.sqrt(1 - rho)) * noise
                        delta *= np.float32(0.002)
                        delta += base
                        t = delta
                    bf = torch.from_numpy(np.ascontiguousarray(t)).to(torch.bfloat16)
                    handles[name].write(bf.view(torch.uint8).numpy().tobytes())
        finally:
            for h in handles.values():
                h.close()
    if len(runs) > 1:
        total = sum(b for _, b in sizes)
        for f in folders.values():
            index_doc = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (f / "model.safetensors.index.json").write_text(json.dumps(index_doc))
    return [f"{ORG}/{n}" for n in names]


def weight_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def _requests(stats: dict[str, Any]) -> dict[str, int]:
    r = stats["requests"]
    return {"api": r.get("api", 0), "resolve": r.get("resolve", 0), "cdn": r.get("cdn", 0)}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shapes = dict(sorted(llama_shapes(args.params).items()))  # safetensors order: by name
    params = sum(math.prod(s) for s in shapes.values())
    rhos = [0.1 + 0.8 * i / max(1, args.models - 1) for i in range(args.models)]
    t0 = time.perf_counter()
    refs = write_family(work / "hub", shapes, rhos, shard_bytes=args.shard_bytes)
    generated_s = time.perf_counter() - t0
    base_ref, members = refs[0], refs[1:]
    folder = {r: work / "hub" / r for r in refs}
    db = open_database(f"sqlite:///{work / 'bench.db'}")
    report: dict[str, Any] = {
        "family": {
            "models": len(members),
            "params_per_model": params,
            "weight_bytes_per_model": weight_bytes(folder[base_ref]),
            "files_per_model": len(list(folder[base_ref].glob("*.safetensors"))),
            "generated_s": round(generated_s, 1),
        },
        "emulator": {"latency_ms": args.latency_ms, "bandwidth_bps": args.bandwidth},
    }
    with HubEmulator(work / "hub", latency_ms=args.latency_ms, bandwidth_bps=args.bandwidth) as emu:
        hub = HubClient(endpoint=emu.url, limits=RateLimits.unlimited())
        # Per-job sampling reads through the process's shared client: no client-side
        # quota either, so times compare transfers (the quotas are in the projection).
        shared._SHARED[shared.config.endpoint(emu.url)] = hub
        per_model = []
        for ref in refs:
            emu.reset_stats()
            outcome = sketch_model(db, ref, hub=hub, size=args.size, block=args.block)
            served = _requests(emu.stats())
            per_model.append(
                {
                    "model": ref,
                    "bytes_read": outcome.bytes_read,
                    "weight_bytes": weight_bytes(folder[ref]),
                    "share": outcome.bytes_read / weight_bytes(folder[ref]),
                    "values": outcome.values,
                    "resolver_requests": served["resolve"],
                    "cdn_requests": served["cdn"],
                    "api_requests": served["api"],
                    "seconds": round(outcome.seconds, 3),
                }
            )
        report["sketch_per_model"] = per_model
        pairs = list(itertools.combinations(members, 2))
        emu.reset_stats()
        t0 = time.perf_counter()
        sketched = {
            p: measure_from_sketches(db, a=p[0], b=p[1], base=base_ref).result for p in pairs
        }
        report["pairs_from_sketches"] = {
            "pairs": len(pairs),
            "seconds_total": round(time.perf_counter() - t0, 3),
            "hub_requests": sum(_requests(emu.stats()).values()),
        }
        sampled_rows = []
        for p in pairs[: args.sampled_pairs]:
            emu.reset_stats()
            t0 = time.perf_counter()
            r = compute_kinship(*p, base_ref, sample=args.sample, seed=0, endpoint=emu.url)
            served = _requests(emu.stats())
            sampled_rows.append(
                {"pair": list(p), "seconds": round(time.perf_counter() - t0, 3),
                 "bytes_read": r.bytes_read, "resolver_requests": served["resolve"],
                 "cdn_requests": served["cdn"], "metrics": {m: r.metrics[m] for m in ("cs", "pcc")},
                 "intervals": {m: r.intervals.get(m) for m in ("cs", "pcc")}}
            )  # fmt: skip
    db.dispose()
    exact_rows = []
    t_exact = 0.0
    for p in pairs[: args.exact_pairs or None]:
        t0 = time.perf_counter()
        e = compute_kinship(str(folder[p[0]]), str(folder[p[1]]), str(folder[base_ref]))
        t_exact += time.perf_counter() - t0
        s = sketched[p]
        row: dict[str, Any] = {"pair": list(p)}
        for m in ("cs", "pcc"):
            iv = s.intervals[m]
            row[m] = {
                "exact": e.metrics[m],
                "sketch": s.metrics[m],
                "error": abs(s.metrics[m] - e.metrics[m]),
                "covered": iv["low"] <= e.metrics[m] <= iv["high"],
            }
        exact_rows.append(row)
    for srow in sampled_rows:
        match = next(r for r in exact_rows if r["pair"] == srow["pair"]) if exact_rows else None
        if match:
            srow["error"] = {m: abs(srow["metrics"][m] - match[m]["exact"]) for m in ("cs", "pcc")}
    report["exact"] = {"pairs": len(exact_rows), "seconds_total": round(t_exact, 2)}
    report["accuracy"] = {
        "max_error": {m: max(r[m]["error"] for r in exact_rows) for m in ("cs", "pcc")},
        "coverage": {
            m: f"{sum(r[m]['covered'] for r in exact_rows)}/{len(exact_rows)}"
            for m in ("cs", "pcc")
        },
        "rows": exact_rows,
    }
    report["sampled_per_pair"] = sampled_rows
    report["scaling"] = scaling(report)
    report["projection"] = projection(report, args)
    return report


def scaling(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Family cost as it grows: sketches read each model once (k+1 models); per-job
    reads (sampled or exact) read three models per pair, k(k-1)/2 pairs."""
    pm = report["sketch_per_model"]
    sk_bytes = statistics.mean(m["bytes_read"] for m in pm)
    sk_req = statistics.mean(m["resolver_requests"] + m["cdn_requests"] for m in pm)
    sampled = report["sampled_per_pair"]
    sa_bytes = statistics.mean(s["bytes_read"] for s in sampled) if sampled else math.nan
    sa_req = (
        statistics.mean(s["resolver_requests"] + s["cdn_requests"] for s in sampled)
        if sampled
        else math.nan
    )
    wb = report["family"]["weight_bytes_per_model"]
    out = []
    for k in (2, 4, 8, 16, 32, 64):
        pairs = k * (k - 1) // 2
        out.append(
            {
                "models": k,
                "pairs": pairs,
                "sketch_bytes": round((k + 1) * sk_bytes),
                "sketch_requests": round((k + 1) * sk_req),
                "sampled_bytes": round(pairs * sa_bytes) if sampled else None,
                "sampled_requests": round(pairs * sa_req) if sampled else None,
                "exact_bytes": pairs * 3 * wb,
            }
        )
    return out


def projection(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Hours to sketch ``project_models`` 7B merges: the largest of the API-quota,
    resolver-quota, bandwidth and latency bounds.  A sketch's values, blocks and CDN
    requests do not depend on the model's size; the header reads grow with tensors."""
    pm = report["sketch_per_model"]
    n = args.project_models
    # A 7B llama (hidden 4096, 32 layers): its plan's blocks, plus two header reads per file.
    seven_b = dict(sorted(llama_shapes(SEVEN_B["params"], hidden=4096).items()))
    plan = make_plan(seven_b, size=args.size, block=args.block)
    blocks = sum(len(t.starts) for t in plan.tensors)
    cdn = blocks + 2 * SEVEN_B["files"]
    measured = statistics.mean(m["bytes_read"] / max(1, m["values"]) for m in pm)
    body = measured * plan.num_values  # bytes per value read, as measured, times 7B's values
    resolver = SEVEN_B["files"]  # one resolve per weights file
    api = 1  # model_info: the commit and the file list
    latency_s = args.project_latency_ms / 1000
    out: dict[str, Any] = {
        "models": n,
        "per_model": {"api": api, "resolver": resolver, "cdn": cdn, "bytes": round(body)},
        "assumed": {
            "bandwidth_bps": args.project_bandwidth,
            "cdn_latency_ms": args.project_latency_ms,
            "requests_in_flight": args.project_parallel,
        },
    }
    transfer_h = n * body / args.project_bandwidth / 3600
    latency_h = n * (cdn + resolver + api) * latency_s / args.project_parallel / 3600
    for plan, q in QUOTAS.items():
        api_h = n * api / q["api"] * 300 / 3600
        resolver_h = n * resolver / q["resolve"] * 300 / 3600
        bounds = {
            "api": api_h,
            "resolver": resolver_h,
            "transfer": transfer_h,
            "latency": latency_h,
        }
        out[plan] = {
            "hours": round(max(bounds.values()), 1),
            "bound_by": max(bounds, key=lambda b: bounds[b]),
            **{f"{k}_h": round(v, 2) for k, v in bounds.items()},
        }
    exact_bytes = n * SEVEN_B["bytes"]
    out["exact_download_hours"] = round(exact_bytes / args.project_bandwidth / 3600, 1)
    return out


def markdown(report: dict[str, Any]) -> str:
    fam, pm = report["family"], report["sketch_per_model"]
    lines = [
        f"family: {fam['models']} models + base, {fam['params_per_model'] / 1e6:.0f} M params, "
        f"{fam['weight_bytes_per_model'] / 1e9:.2f} GB bf16 in {fam['files_per_model']} files each",
        "",
        "| per model (sketch) | mean | max |",
        "|---|---|---|",
    ]
    for key in ("bytes_read", "share", "resolver_requests", "cdn_requests", "seconds"):
        vals = [m[key] for m in pm]
        lines.append(f"| {key} | {statistics.mean(vals):.4g} | {max(vals):.4g} |")
    acc = report["accuracy"]
    lines += [
        "",
        f"pairs from sketches: {report['pairs_from_sketches']}",
        f"exact: {report['exact']}",
        f"max |sketch-exact|: {acc['max_error']}, 95% coverage: {acc['coverage']}",
        "",
        "| sampled per pair | seconds | bytes | resolver | cdn | err cs | err pcc |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["sampled_per_pair"]:
        err = s.get("error", {})
        lines.append(
            f"| {s['pair'][0]}~{s['pair'][1]} | {s['seconds']} | {s['bytes_read']} | "
            f"{s['resolver_requests']} | {s['cdn_requests']} | {err.get('cs', math.nan):.4f} | "
            f"{err.get('pcc', math.nan):.4f} |"
        )
    head = "| models | pairs | sketch bytes | sketch req | sampled bytes | sampled req | exact |"
    lines += ["", head, "|---|---|---|---|---|---|---|"]
    for r in report["scaling"]:
        lines.append(
            f"| {r['models']} | {r['pairs']} | {r['sketch_bytes']:,} | {r['sketch_requests']:,} | "
            f"{r['sampled_bytes'] or 0:,} | {r['sampled_requests'] or 0:,} | {r['exact_bytes']:,} |"
        )
    lines += ["", f"projection: {json.dumps(report['projection'])}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", type=int, default=8, help="fine-tunes in the family (plus a base)")
    p.add_argument("--params", type=float, default=1e9, help="parameters per model")
    p.add_argument("--shard-bytes", type=int, default=1_000_000_000, help="largest shard")
    p.add_argument("--latency-ms", type=float, default=20.0, help="emulator latency per request")
    p.add_argument("--bandwidth", type=float, default=100e6, help="emulator bytes/s per response")
    p.add_argument("--size", type=int, default=65_536, help="sketch values per model")
    p.add_argument("--block", type=int, default=256, help="sketch block (elements)")
    p.add_argument("--sample", type=float, default=0.02, help="sampled mode's fraction")
    p.add_argument("--sampled-pairs", type=int, default=3, help="pairs run in sampled mode")
    p.add_argument("--exact-pairs", type=int, default=0, help="pairs run exactly (0: all)")
    p.add_argument("--project-models", type=int, default=100_000)
    p.add_argument("--project-bandwidth", type=float, default=12.5e6, help="bytes/s (100 Mbit/s)")
    p.add_argument("--project-latency-ms", type=float, default=50.0, help="per CDN request")
    p.add_argument("--project-parallel", type=int, default=128, help="requests in flight")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_sketch_", dir=args.workdir))
    try:
        report = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2, default=str))
    print(markdown(report), file=sys.stderr)


if __name__ == "__main__":
    main()
