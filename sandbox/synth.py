"""Generated llama-shaped model families as real safetensors folders (tests and benchmarks).

A family is a base, fine-tunes (base + noise with a chosen share of a common direction, so
their task vectors have a known correlation), and merges made with the real formulas
(linear, task arithmetic, TIES).  Models are written with ``safetensors`` as one file or as
``model-0000k-of-0000n.safetensors`` shards plus ``model.safetensors.index.json``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

State = dict[str, np.ndarray]


@dataclass(frozen=True)
class Arch:
    """Shape of a tiny llama: vocabulary, hidden size, layers, MLP width."""

    vocab: int = 1024
    hidden: int = 64
    layers: int = 2
    intermediate: int = 176

    def shapes(self, *, tied: bool = False, extra_vocab: int = 0) -> dict[str, tuple[int, ...]]:
        """Tensor names and shapes in the order transformers' LlamaForCausalLM lists them."""
        v, h, i = self.vocab + extra_vocab, self.hidden, self.intermediate
        out: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (v, h)}
        for n in range(self.layers):
            p = f"model.layers.{n}."
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[f"{p}self_attn.{proj}.weight"] = (h, h)
            out[f"{p}mlp.gate_proj.weight"] = (i, h)
            out[f"{p}mlp.up_proj.weight"] = (i, h)
            out[f"{p}mlp.down_proj.weight"] = (h, i)
            out[f"{p}input_layernorm.weight"] = (h,)
            out[f"{p}post_attention_layernorm.weight"] = (h,)
        out["model.norm.weight"] = (h,)
        if not tied:
            out["lm_head.weight"] = (v, h)
        return out

    def num_params(self, *, tied: bool = False) -> int:
        return sum(math.prod(s) for s in self.shapes(tied=tied).values())

    def config(self, *, tied: bool = False, extra_vocab: int = 0, dtype: str = "bfloat16") -> dict:
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab + extra_vocab,
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": max(1, self.hidden // 16),
            "num_key_value_heads": max(1, self.hidden // 16),
            "tie_word_embeddings": tied,
            "torch_dtype": dtype,
        }


def base_state(arch: Arch, *, seed: int, tied: bool = False) -> State:
    """A random 'pretrained' model: N(0, 0.02) matrices, ones for norms."""
    rng = np.random.default_rng(seed)
    out: State = {}
    for name, shape in arch.shapes(tied=tied).items():
        if len(shape) == 1:
            out[name] = np.ones(shape, dtype=np.float32)
        else:
            out[name] = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
    return out


def finetune(
    base: State,
    *,
    seed: int,
    shared_seed: int,
    rho: float,
    scale: float = 0.002,
    extra_vocab: int = 0,
) -> State:
    """``base + scale·(√rho·s + √(1-rho)·e)``: ``s`` common to every fine-tune made with the same
    ``shared_seed``, ``e`` its own; layer ``n`` is scaled by ``1 + n/4`` so per-layer values vary.

    ``extra_vocab`` appends rows to the embeddings and lm_head (a resized vocabulary).
    """
    rng_s = np.random.default_rng(shared_seed)
    rng_e = np.random.default_rng(seed)
    out: State = {}
    for name, w in base.items():
        s = rng_s.standard_normal(w.shape, dtype=np.float32)
        e = rng_e.standard_normal(w.shape, dtype=np.float32)
        layer = _layer_of(name)
        k = scale * (1.0 + (layer or 0) / 4)
        new = (w + k * (math.sqrt(rho) * s + math.sqrt(1 - rho) * e)).astype(np.float32)
        if extra_vocab and name in ("model.embed_tokens.weight", "lm_head.weight"):
            rows = rng_e.standard_normal((extra_vocab, w.shape[1]), dtype=np.float32) * 0.02
            new = np.concatenate([new, rows.astype(np.float32)], axis=0)
        out[name] = new
    return out


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    if "layers" in parts:
        i = parts.index("layers")
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def merge_linear(models: list[State], weights: list[float]) -> State:
    """mergekit ``linear``: Σ wᵢ θᵢ / Σ wᵢ."""
    tot = sum(weights)
    out: State = {}
    for k in models[0]:
        acc = np.zeros(models[0][k].shape, dtype=np.float64)
        for w, m in zip(weights, models, strict=True):
            acc += w * m[k].astype(np.float64)
        out[k] = (acc / tot).astype(np.float32)
    return out


def merge_task_arithmetic(
    base: State, models: list[State], weights: list[float], *, lam: float = 1.0
) -> State:
    """mergekit ``task_arithmetic``: θ_base + λ Σ wᵢ (θᵢ − θ_base)."""
    out: State = {}
    for k, b in base.items():
        delta = np.zeros(b.shape, dtype=np.float64)
        for w, m in zip(weights, models, strict=True):
            delta += w * (m[k] - b).astype(np.float64)
        out[k] = (b + lam * delta).astype(np.float32)
    return out


def merge_ties(
    base: State,
    models: list[State],
    weights: list[float],
    *,
    density: float = 0.5,
    lam: float = 1.0,
) -> State:
    """TIES: keep each task vector's top-``density`` magnitudes, elect the sign of the weighted
    sum, average the surviving entries that agree with it (disjoint mean)."""
    out: State = {}
    for k, b in base.items():
        tvs = []
        for w, m in zip(weights, models, strict=True):
            d = (m[k] - b).astype(np.float64).ravel()
            keep = max(1, round(density * d.size))
            thresh = np.partition(np.abs(d), d.size - keep)[d.size - keep]
            tvs.append(w * np.where(np.abs(d) >= thresh, d, 0.0))
        stack = np.stack(tvs)
        sign = np.sign(stack.sum(axis=0))
        agree = (np.sign(stack) == sign) & (stack != 0)
        num = np.where(agree, stack, 0.0).sum(axis=0)
        den = np.maximum(agree.sum(axis=0), 1)
        out[k] = (b + lam * (num / den).reshape(b.shape)).astype(np.float32)
    return out


def save_model(
    state: State,
    path: Path,
    *,
    config: dict,
    dtype: str = "bf16",
    shards: int = 1,
) -> Path:
    """Write ``state`` as a real model folder (config.json + safetensors, optionally sharded)."""
    path.mkdir(parents=True, exist_ok=True)
    tdtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)).to(tdtype) for k, v in state.items()}
    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    if shards <= 1:
        save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
        return path
    names = list(tensors)
    per = math.ceil(len(names) / shards)
    weight_map: dict[str, str] = {}
    total = 0
    for s in range(shards):
        chunk = names[s * per : (s + 1) * per]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({k: tensors[k] for k in chunk}, str(path / fname), metadata={"format": "pt"})
        for k in chunk:
            weight_map[k] = fname
            total += tensors[k].numel() * tensors[k].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (path / "model.safetensors.index.json").write_text(
        json.dumps(index, indent=2), encoding="utf-8"
    )
    return path


@dataclass
class Family:
    """Paths of a generated family, by role name."""

    root: Path
    arch: Arch
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Path:
        return self.paths[key]


def make_family(
    root: Path,
    *,
    arch: Arch | None = None,
    dtype: str = "bf16",
    shards: int = 1,
    tied: bool = False,
    resized: int = 0,
    seed: int = 0,
    merges: bool = True,
) -> Family:
    """Write base, ft1/ft2/ft3 (rho 0.5, 0.5, 0.1 of a shared direction), and (``merges``)
    linear/task_arithmetic/ties merges of ft1+ft2 under ``root``.

    ``resized`` > 0 gives ft2 that many extra vocabulary rows.
    """
    arch = arch or Arch()
    fam = Family(root=root, arch=arch)
    base = base_state(arch, seed=seed, tied=tied)
    fts = {
        "ft1": finetune(base, seed=seed + 1, shared_seed=seed + 100, rho=0.5),
        "ft2": finetune(base, seed=seed + 2, shared_seed=seed + 100, rho=0.5, extra_vocab=resized),
        "ft3": finetune(base, seed=seed + 3, shared_seed=seed + 100, rho=0.1),
    }
    cfg = arch.config(tied=tied, dtype="bfloat16" if dtype == "bf16" else "float32")
    fam.paths["base"] = save_model(base, root / "base", config=cfg, dtype=dtype, shards=shards)
    for name, st in fts.items():
        c = arch.config(tied=tied, extra_vocab=resized if name == "ft2" else 0)
        fam.paths[name] = save_model(st, root / name, config=c, dtype=dtype, shards=shards)
    if merges:
        pair = [fts["ft1"], fts["ft3"]]
        made = {
            "linear": merge_linear(pair, [0.5, 0.5]),
            "task_arithmetic": merge_task_arithmetic(base, pair, [0.6, 0.4]),
            "ties": merge_ties(base, pair, [1.0, 1.0], density=0.5),
        }
        for name, st in made.items():
            fam.paths[name] = save_model(st, root / name, config=cfg, dtype=dtype, shards=shards)
    return fam


def write_streaming(
    path: Path,
    specs: Iterable[tuple[str, tuple[int, ...]]],
    produce: Callable[[str, tuple[int, ...]], torch.Tensor],
    *,
    dtype: torch.dtype = torch.bfloat16,
) -> int:
    """Write one safetensors file tensor by tensor (memory: one tensor), return bytes written.

    The header is laid out first from the shapes, as the format specifies (8-byte length,
    JSON, padded to 8 bytes, then the data in header order).
    """
    st_name = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}[dtype]
    size = torch.empty(0, dtype=dtype).element_size()
    specs = list(specs)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in specs:
        n = math.prod(shape) * size
        header[name] = {"dtype": st_name, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape in specs:
            t = produce(name, shape).to(dtype).contiguous()
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"{name}: produced shape {tuple(t.shape)} != {shape}")
            f.write(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return 8 + len(raw) + off
