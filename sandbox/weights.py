"""The sandbox's one safetensors writer: tensors → a model folder in mergekit's layout.

Every generated weight file goes through here.  A model is written as mergekit's
``TensorWriter`` leaves it: one ``model.safetensors``, or shards
``model-0000k-of-0000n.safetensors`` (tensors in write order, split into contiguous
runs) plus ``model.safetensors.index.json`` holding
``{"metadata": {"total_size": …, "mergekit_version": "0.1.5"}, "weight_map": {…}}``;
every file's header carries ``{"format": "pt"}``.  Data types are ``bf16``, ``fp16``
or ``fp32``.  :func:`write_streaming_model` writes the same layout tensor by tensor
(memory: one tensor) for benchmark models of billions of parameters.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

DTYPES: dict[str, torch.dtype] = {
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "fp32": torch.float32,
}
# The dtype names of the safetensors header.
_HEADER_DTYPES = {"bf16": "BF16", "fp16": "F16", "fp32": "F32"}
MERGEKIT_VERSION = "0.1.5"
FILE_METADATA = {"format": "pt"}
INDEX_SUFFIX = ".safetensors.index.json"

Tensors = Mapping[str, np.ndarray | torch.Tensor]
Produce = Callable[[str, tuple[int, ...]], torch.Tensor]


def _dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}") from None


def shard_name(basename: str, index: int, total: int) -> str:
    """``model.safetensors`` for one file, ``model-0000k-of-0000n.safetensors`` for shards."""
    if total == 1:
        return f"{basename}.safetensors"
    return f"{basename}-{index + 1:05d}-of-{total:05d}.safetensors"


def plan_shards(
    sizes: Sequence[tuple[str, int]], *, shards: int = 1, max_shard_bytes: int | None = None
) -> list[list[str]]:
    """Split tensor names (in write order, with their byte sizes) into shards.

    With ``max_shard_bytes`` the rule is mergekit's: a new shard starts when the next
    tensor would take the current one over the limit.  Otherwise the names are cut
    into ``shards`` contiguous runs of (nearly) equal count, the first ones a name
    longer; never more runs than names.

    Raises:
        ValueError: ``shards`` < 1 or ``max_shard_bytes`` < 1.
    """
    names = [name for name, _ in sizes]
    if max_shard_bytes is not None:
        if max_shard_bytes < 1:
            raise ValueError("max_shard_bytes must be positive")
        runs: list[list[str]] = [[]]
        used = 0
        for name, nbytes in sizes:
            if runs[-1] and used + nbytes > max_shard_bytes:
                runs.append([])
                used = 0
            runs[-1].append(name)
            used += nbytes
        return runs
    if shards < 1:
        raise ValueError("shards must be at least 1")
    count = max(1, min(shards, len(names)))
    per, extra = divmod(len(names), count)
    runs, start = [], 0
    for i in range(count):
        end = start + per + (1 if i < extra else 0)
        runs.append(names[start:end])
        start = end
    return runs


def _as_torch(tensors: Tensors, dtype: str | None) -> dict[str, torch.Tensor]:
    target = _dtype(dtype) if dtype is not None else None
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        t = (
            value
            if isinstance(value, torch.Tensor)
            else torch.from_numpy(np.ascontiguousarray(value))
        )
        out[name] = (t.to(target) if target is not None else t).contiguous()
    return out


def _write_index(
    folder: Path, basename: str, weight_map: Mapping[str, str], total_size: int
) -> None:
    index = {
        "metadata": {"total_size": total_size, "mergekit_version": MERGEKIT_VERSION},
        "weight_map": dict(weight_map),
    }
    (folder / f"{basename}{INDEX_SUFFIX}").write_text(json.dumps(index, indent=2), encoding="utf-8")


def write_safetensors(
    folder: Path,
    tensors: Tensors,
    *,
    dtype: str | None = None,
    shards: int = 1,
    max_shard_bytes: int | None = None,
    basename: str = "model",
) -> list[str]:
    """Write ``tensors`` into ``folder`` (created) as one file or shards + index.

    ``dtype`` None keeps each tensor's own type; otherwise every tensor is cast to it.
    Sharding as in :func:`plan_shards`.  ``basename`` names the files
    (``adapter_model`` for a PEFT adapter).  Returns the weight file names written.

    Raises:
        ValueError: an unknown ``dtype`` or a bad shard setting.
        OSError: the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = _as_torch(tensors, dtype)
    sizes = [(name, t.numel() * t.element_size()) for name, t in data.items()]
    runs = plan_shards(sizes, shards=shards, max_shard_bytes=max_shard_bytes)
    files: list[str] = []
    weight_map: dict[str, str] = {}
    for i, run in enumerate(runs):
        fname = shard_name(basename, i, len(runs))
        save_file({n: data[n] for n in run}, str(folder / fname), metadata=FILE_METADATA)
        weight_map.update(dict.fromkeys(run, fname))
        files.append(fname)
    if len(runs) > 1:
        _write_index(folder, basename, weight_map, sum(n for _, n in sizes))
    return files


def save_model(
    state: Tensors,
    path: Path,
    *,
    config: Mapping[str, Any],
    dtype: str = "bf16",
    shards: int = 1,
) -> Path:
    """Write ``state`` as a real model folder: ``config.json`` + safetensors in ``dtype``
    (optionally in ``shards`` shards).  Returns ``path``.

    Raises:
        ValueError: an unknown ``dtype``.
        OSError: the folder cannot be written.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    write_safetensors(path, state, dtype=dtype, shards=shards)
    return path


def write_streaming(
    path: Path,
    specs: Iterable[tuple[str, tuple[int, ...]]],
    produce: Produce,
    *,
    dtype: str = "bf16",
) -> int:
    """Write one safetensors file tensor by tensor (memory: one tensor); return bytes written.

    The header is laid out first from the shapes, as the format specifies (8-byte length,
    JSON, padded to 8 bytes, then the data in header order).

    Raises:
        ValueError: an unknown ``dtype``, or ``produce`` returned another shape.
    """
    torch_dtype = _dtype(dtype)
    size = torch.empty(0, dtype=torch_dtype).element_size()
    specs = list(specs)
    header: dict[str, object] = {"__metadata__": FILE_METADATA}
    off = 0
    for name, shape in specs:
        n = math.prod(shape) * size
        header[name] = {
            "dtype": _HEADER_DTYPES[dtype],
            "shape": list(shape),
            "data_offsets": [off, off + n],
        }
        off += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape in specs:
            t = produce(name, shape).to(torch_dtype).contiguous()
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"{name}: produced shape {tuple(t.shape)} != {shape}")
            f.write(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return 8 + len(raw) + off


def write_streaming_model(
    folder: Path,
    specs: Iterable[tuple[str, tuple[int, ...]]],
    produce: Produce,
    *,
    dtype: str = "bf16",
    max_shard_bytes: int | None = None,
    basename: str = "model",
) -> int:
    """:func:`write_safetensors`'s layout, written tensor by tensor with
    :func:`write_streaming` (memory: one tensor).  Returns the bytes of the weight files.

    Raises:
        ValueError: as :func:`write_streaming` and :func:`plan_shards`.
        OSError: the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shapes = dict(specs)
    element = torch.empty(0, dtype=_dtype(dtype)).element_size()
    sizes = [(name, math.prod(shape) * element) for name, shape in shapes.items()]
    runs = plan_shards(sizes, max_shard_bytes=max_shard_bytes)
    written = 0
    weight_map: dict[str, str] = {}
    for i, run in enumerate(runs):
        fname = shard_name(basename, i, len(runs))
        written += write_streaming(
            folder / fname, [(n, shapes[n]) for n in run], produce, dtype=dtype
        )
        weight_map.update(dict.fromkeys(run, fname))
    if len(runs) > 1:
        _write_index(folder, basename, weight_map, sum(n for _, n in sizes))
    return written
