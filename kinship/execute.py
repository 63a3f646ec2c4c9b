"""Streaming executor: read a plan chunk by chunk and accumulate float64 sums.

Every tensor's compared elements are cut into chunks of ``chunk`` elements.  A thread pool
(one worker per core) takes the chunks; each worker views the three chunks through the
shards' private mappings (no copy), converts them to float32 (exact for BF16/F16/F32)
and hands them to the fused numba kernel, which forms differences and products in
float64 and sums them in one pass with the GIL released, then drops the chunk's pages
from the resident set.  At most ``2·workers`` chunks are in flight and the next tensor's
byte range is announced to the kernel (``posix_fadvise``), so reading ahead, converting
and reducing overlap and memory is a few chunk buffers per thread, whatever the model
size.  Extra statistics (sign counts, max |x|, the reference's quantization) and CUDA use
a float64 torch path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from kinhub.kinship import metrics as metric_registry
from kinhub.kinship.errors import DeviceUnavailableError
from kinhub.kinship.fused import moments, to_float32
from kinhub.kinship.names import DEVICES
from kinhub.kinship.plan import Plan, PlanEntry
from kinhub.kinship.sums import Sums
from kinhub.kinship.weights import LocalFiles, ModelWeights

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 1 << 18


@dataclass(frozen=True)
class Options:
    """What the chunk kernel computes: extra statistics and an optional quantization.

    ``quantize`` maps an entry name to ``(absmax_a, absmax_b)``: deltas become
    ``clamp(round(127·(x/absmax)), −127, 127)`` (the reference's ``--low-precision``).
    """

    sign: bool = False
    absmax: bool = False
    moments: bool = True
    quantize: dict[str, tuple[float, float]] | None = None


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda`` (error when absent) or ``auto`` -> the device to use.

    Raises:
        DeviceUnavailableError: CUDA requested but not available, or an unknown name.
    """
    if device not in DEVICES:
        raise DeviceUnavailableError(f"unknown device {device!r} ({', '.join(DEVICES)})")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise DeviceUnavailableError("--device cuda: no CUDA device is available (torch CPU build)")
    return "cpu"


class _Buffers(threading.local):
    raw: list[bytearray]
    f64: Any = None  # torch.Tensor (3, chunk) float64, torch path
    bits: np.ndarray | None = None  # (3, chunk) uint32 scratch, fast path


def _quantize(x: Any, absmax: float) -> None:
    # Same order of operations as the reference: 127 * (x / abs_max), round half to even.
    x.div_(absmax).mul_(127.0).round_().clamp_(-127.0, 127.0)


def _fast_kernel(
    models: tuple[ModelWeights, ModelWeights, ModelWeights],
    entry: PlanEntry,
    lo: int,
    hi: int,
    bufs: _Buffers,
) -> Sums:
    """Moments only, on CPU: exact conversion to float32, then the fused float64 pass."""
    n = hi - lo
    if bufs.bits is None or bufs.bits.shape[1] < n:
        bufs.bits = np.empty((3, n), dtype=np.uint32)
        bufs.raw = [bytearray(n * 4) for _ in range(3)]
    arrays = []
    for row, (mw, info) in enumerate(zip(models, (entry.a, entry.b, entry.z), strict=True)):
        arr = mw.read_array(info, lo, hi, bufs.raw[row])
        arrays.append(to_float32(arr, info.dtype, bufs.bits[row, :n]))
    s = Sums(n=n)
    s.sa, s.sb, s.saa, s.sbb, s.sab = moments(arrays[0], arrays[1], arrays[2])
    _release(models, entry, lo, hi)
    return s


def _release(
    models: tuple[ModelWeights, ModelWeights, ModelWeights], entry: PlanEntry, lo: int, hi: int
) -> None:
    for mw, info in zip(models, (entry.a, entry.b, entry.z), strict=True):
        mw.release(info, lo, hi)


def _kernel(
    models: tuple[ModelWeights, ModelWeights, ModelWeights],
    entry: PlanEntry,
    lo: int,
    hi: int,
    opts: Options,
    bufs: _Buffers,
    device: str,
) -> Sums:
    if device == "cpu" and opts.moments and not (opts.sign or opts.absmax or opts.quantize):
        return _fast_kernel(models, entry, lo, hi, bufs)
    import torch

    n = hi - lo
    if bufs.f64 is None or bufs.f64.shape[1] < n or bufs.f64.device.type != device:
        # One (3, chunk) block: rows a, b, base, so a and b are reduced with single calls.
        bufs.f64 = torch.empty((3, n), dtype=torch.float64, device=device)
        bufs.raw = [bytearray(n * 4) for _ in range(3)]
    block = bufs.f64[:, :n]
    for row, (mw, info) in enumerate(zip(models, (entry.a, entry.b, entry.z), strict=True)):
        block[row].copy_(mw.read(info, lo, hi, bufs.raw[row]))
    _release(models, entry, lo, hi)
    ab = block[:2]
    ab.sub_(block[2])
    fa, fb = block[0], block[1]
    s = Sums(n=n)
    if opts.absmax:
        s.amax_a = float(fa.abs().max()) if n else 0.0
        s.amax_b = float(fb.abs().max()) if n else 0.0
    if opts.quantize is not None:
        qa, qb = opts.quantize[entry.name]
        _quantize(fa, qa)
        _quantize(fb, qb)
    if opts.moments:
        s.sa, s.sb = ab.sum(dim=1).tolist()
        s.saa = float(torch.dot(fa, fa))
        s.sbb = float(torch.dot(fb, fb))
        s.sab = float(torch.dot(fa, fb))
    if opts.sign:
        nz = (fa != 0) & (fb != 0)
        s.both = int(nz.sum())
        s.agree = int((nz & ((fa > 0) == (fb > 0))).sum())
    return s


def execute(
    plan: Plan,
    models: tuple[ModelWeights, ModelWeights, ModelWeights],
    *,
    opts: Options | None = None,
    workers: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Sums]:
    """Stream the plan and return float64 sums per entry name (in plan order).

    ``models`` is (A, B, base).  ``progress(done_params, total_params)`` is called per tensor.

    Raises:
        WeightsFormatError: a file ended early (names file and tensor).
        DeviceUnavailableError: see ``resolve_device``.
    """
    opts = opts or Options()
    dev = resolve_device(device)
    workers = workers or os.cpu_count() or 1
    out: dict[str, Sums] = {e.name: Sums() for e in plan.entries}
    bufs = _Buffers()
    torch_mod: Any = None
    prev_threads = 0
    if not (dev == "cpu" and opts.moments and not (opts.sign or opts.absmax or opts.quantize)):
        import torch as torch_mod

        prev_threads = torch_mod.get_num_threads()
        # Parallelism comes from our pool; torch's own pool would oversubscribe the cores.
        torch_mod.set_num_threads(1)
    inflight: deque[tuple[str, Future[Sums]]] = deque()
    done = 0
    total = plan.params
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kinship") as pool:

            def drain(limit: int) -> None:
                while len(inflight) > limit:
                    name, fut = inflight.popleft()
                    out[name].add(fut.result())

            for i, entry in enumerate(plan.entries):
                if i + 1 < len(plan.entries):
                    _advise(models, plan.entries[i + 1])
                for lo in range(0, entry.numel, chunk):
                    hi = min(entry.numel, lo + chunk)
                    fut = pool.submit(_kernel, models, entry, lo, hi, opts, bufs, dev)
                    inflight.append((entry.name, fut))
                    drain(2 * workers)
                done += entry.numel
                if progress is not None:
                    progress(done, total)
            drain(0)
    finally:
        if torch_mod is not None:
            torch_mod.set_num_threads(prev_threads)
    return out


def _advise(models: tuple[ModelWeights, ...], entry: PlanEntry) -> None:
    for mw, info in zip(models, (entry.a, entry.b, entry.z), strict=True):
        if isinstance(mw.source, LocalFiles) and mw.pickled is None:
            # Advice only: reading reports real problems.
            with contextlib.suppress(OSError):
                mw.source.advise(info.file, info.start, entry.numel * info.itemsize)


def total(sums: dict[str, Sums]) -> Sums:
    t = Sums()
    for s in sums.values():
        t.add(s)
    return t


def measure_exact(
    plan: Plan,
    models: tuple[ModelWeights, ModelWeights, ModelWeights],
    chosen: list[metric_registry.Metric],
    *,
    per_tensor: bool = False,
    workers: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stream every compared element of ``plan`` and return ``(metric values, per-tensor
    breakdown)`` (the breakdown is empty unless ``per_tensor``).

    Raises:
        WeightsFormatError, DeviceUnavailableError: see :func:`execute`.
    """
    opts = Options(sign=any(m.needs_sign for m in chosen))
    sums = execute(
        plan, models, opts=opts, workers=workers, chunk=chunk, device=device, progress=progress
    )
    inp = metric_registry.MetricInput(total(sums), sums, plan.entries)
    values = {m.name: m.compute(inp) for m in chosen}
    breakdown: dict[str, Any] = {}
    if per_tensor:
        for e in plan.entries:
            s = sums[e.name]
            breakdown[e.name] = {
                "numel": s.n,
                "cs": metric_registry.cosine(s),
                "pcc": metric_registry.pearson(s),
                "ed": metric_registry.euclid(s),
            }
    return values, breakdown
