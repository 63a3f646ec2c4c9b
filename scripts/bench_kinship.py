"""Benchmark: kinhub's streaming kinship vs a naive full-load computation (reference-style).

Generates a bf16 A/B/base triple of N parameters (llama-shaped, sharded, fine-tune-like
deltas) in a temporary directory, warms the page cache, then runs in subprocesses:

* ``python -m cli kinship A B --base Z --format json`` (the whole process is timed);
* a naive computation that loads all three models fully in fp32 (like the reference tool)
  and computes cs/pcc/ed in fp32 over the concatenated task vectors.

Reports wall time, params/s and peak RSS (``os.wait4`` rusage of each child) side by side.
The naive run needs ~5x one model's fp32 size in RAM, so ``--naive-max-params`` runs it on a
smaller triple (said so in the report).  Files are deleted afterwards unless ``--keep``.

    python scripts/bench_kinship.py --params 1e9
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from kinhub.sandbox.tensors import llama_shapes  # noqa: E402
from kinhub.sandbox.weights import write_streaming_model  # noqa: E402


def _tensor(name: str, shape: tuple[int, ...], role: str) -> torch.Tensor:
    seed = zlib.crc32(name.encode())
    g = torch.Generator().manual_seed(seed)
    base = torch.ones(shape) if len(shape) == 1 else torch.randn(shape, generator=g) * 0.02
    if role == "base":
        return base
    shared = torch.Generator().manual_seed(seed + 1)
    own = torch.Generator().manual_seed(seed + (2 if role == "a" else 3))
    # Fine-tune-like: small deltas sharing half their variance (cs about 0.5).
    delta = torch.randn(shape, generator=shared) + torch.randn(shape, generator=own)
    return base + 0.001 * delta


def write_model(path: Path, shapes: dict[str, tuple[int, ...]], role: str, shard_bytes: int) -> int:
    total = write_streaming_model(
        path, shapes.items(), lambda n, s: _tensor(n, s, role), max_shard_bytes=shard_bytes
    )
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return total


def make_triple(root: Path, n: int, shard_bytes: int) -> tuple[int, int]:
    shapes = llama_shapes(n)
    total = sum(write_model(root / r, shapes, r, shard_bytes) for r in ("a", "b", "base"))
    return sum(math.prod(s) for s in shapes.values()), total


def warm(root: Path) -> None:
    buf = bytearray(64 << 20)
    for f in sorted(root.rglob("*.safetensors")):
        with open(f, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process.

    Peak RSS is the child's own high-water mark (``VmHWM``), polled from /proc while it runs:
    rusage ``ru_maxrss`` would include the parent's RSS, which Linux carries across exec.
    """
    peak = [0]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, text=True)
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _hwm_kb(p.pid))
            done.wait(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, _ = p.communicate()
    wall = time.perf_counter() - t0
    done.set()
    poller.join()
    if p.returncode:
        raise SystemExit(f"child failed ({p.returncode}): {' '.join(cmd)}")
    return wall, peak[0] / 1024, out


NAIVE = r"""
import json, sys, time, numpy, torch
from safetensors.torch import load_file
from pathlib import Path
def load(p):
    sd = {}
    for f in sorted(Path(p).glob("*.safetensors")):
        sd.update({k: v.float() for k, v in load_file(str(f)).items()})
    return sd
t = time.perf_counter()
a, b, z = (load(p) for p in sys.argv[1:4])
da = torch.cat([(a[k] - v).view(-1) for k, v in z.items()])
db = torch.cat([(b[k] - v).view(-1) for k, v in z.items()])
del a, b, z
cs = float(numpy.dot(da, db) / numpy.sqrt(numpy.dot(da, da) * numpy.dot(db, db)))
pcc = torch.corrcoef(torch.stack((da, db)))[0, 1].item()
ed = torch.dist(da, db).item()
print(json.dumps({"cs": cs, "pcc": pcc, "ed": ed, "seconds": time.perf_counter() - t}))
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--params", type=float, default=1e9, help="parameters per model (1e9)")
    ap.add_argument("--shard-gb", type=float, default=1.0, help="max shard size in GB (1.0)")
    ap.add_argument(
        "--naive-max-params",
        type=float,
        default=2.5e8,
        help="run the naive computation on at most this many params (2.5e8)",
    )
    ap.add_argument("--dir", type=Path, default=None, help="work directory (a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kinbench-", dir=args.dir))
    shard = int(args.shard_gb * 1e9)
    report: dict[str, object] = {"cores": os.cpu_count()}
    try:
        t = time.perf_counter()
        n, nbytes = make_triple(work / "full", int(args.params), shard)
        report.update(params=n, bytes=nbytes, generate_seconds=round(time.perf_counter() - t, 1))
        warm(work / "full")
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "kinship",
            str(work / "full/a"),
            str(work / "full/b"),
            "--base",
            str(work / "full/base"),
            "--format",
            "json",
        ]
        wall, rss, out = run_child(cmd)
        res = json.loads(out)
        report["kinhub"] = {
            "wall_seconds": round(wall, 2),
            "engine_seconds": round(res["seconds"], 2),
            "params_per_s_wall": round(n / wall / 1e6, 1),
            "Mparams_per_s_engine": round(n / res["seconds"] / 1e6, 1),
            "peak_rss_mb": round(rss),
            "metrics": res["metrics"],
        }
        naive_root = work / "full"
        nn = n
        if n > args.naive_max_params:
            shutil.rmtree(work / "full")
            nn, _ = make_triple(work / "small", int(args.naive_max_params), shard)
            naive_root = work / "small"
            report["naive_note"] = (
                f"naive run on a smaller triple ({nn} params), --naive-max-params"
            )
            warm(naive_root)
            wall_k, rss_k, out_k = run_child(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "kinship",
                    str(naive_root / "a"),
                    str(naive_root / "b"),
                    "--base",
                    str(naive_root / "base"),
                    "--format",
                    "json",
                ]
            )
            report["kinhub_at_naive_size"] = {
                "params": nn,
                "wall_seconds": round(wall_k, 2),
                "peak_rss_mb": round(rss_k),
                "metrics": json.loads(out_k)["metrics"],
            }
        wall_n, rss_n, out_n = run_child(
            [
                sys.executable,
                "-c",
                NAIVE,
                str(naive_root / "a"),
                str(naive_root / "b"),
                str(naive_root / "base"),
            ]
        )
        naive = json.loads(out_n)
        report["naive"] = {
            "params": nn,
            "wall_seconds": round(wall_n, 2),
            "params_per_s_wall": round(nn / wall_n / 1e6, 1),
            "peak_rss_mb": round(rss_n),
            "metrics": {k: naive[k] for k in ("cs", "pcc", "ed")},
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
