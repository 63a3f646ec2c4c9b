"""Tensor families for generated models: llama shapes, base weights, fine-tunes, merges.

Everything here is a state (tensor name → float32 array) in memory; writing one to
disk is :mod:`kinhub.sandbox.weights`.  A family is a base (:func:`base_state`),
fine-tunes (:func:`finetune`: base + noise with a chosen share of a common direction,
so their task vectors have a known correlation) and merges made with the real
formulas (:func:`merge_linear`, :func:`merge_task_arithmetic`, :func:`merge_ties`).
:func:`noisy_mean` makes the stand-in weights of the synthetic hub, whose point is
names and shapes rather than values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

State = dict[str, np.ndarray]


@dataclass(frozen=True)
class Arch:
    """Shape of a tiny llama: vocabulary, hidden size, layers, MLP width.

    ``heads`` None gives one attention head per 16 hidden units; ``architecture`` and
    ``model_type`` go into ``config.json`` only (the tensor names are llama's).
    """

    vocab: int = 1024
    hidden: int = 64
    layers: int = 2
    intermediate: int = 176
    heads: int | None = None
    architecture: str = "LlamaForCausalLM"
    model_type: str = "llama"

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
        """Parameters of one model of this shape."""
        return sum(math.prod(s) for s in self.shapes(tied=tied).values())

    def config(
        self, *, tied: bool = False, extra_vocab: int = 0, dtype: str = "bfloat16"
    ) -> dict[str, Any]:
        """The ``config.json`` transformers writes for this shape (``torch_dtype`` = ``dtype``)."""
        heads = self.heads if self.heads is not None else max(1, self.hidden // 16)
        return {
            "architectures": [self.architecture],
            "model_type": self.model_type,
            "vocab_size": self.vocab + extra_vocab,
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": heads,
            "num_key_value_heads": heads,
            "tie_word_embeddings": tied,
            "torch_dtype": dtype,
        }


def base_state(arch: Arch, *, seed: int | np.random.Generator, tied: bool = False) -> State:
    """A random 'pretrained' model: N(0, 0.02) matrices, ones for norms.

    ``seed`` is a seed or a generator to draw from (the synthetic hub shares one).
    """
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
        layer = layer_of(name)
        k = scale * (1.0 + (layer or 0) / 4)
        new = (w + k * (math.sqrt(rho) * s + math.sqrt(1 - rho) * e)).astype(np.float32)
        if extra_vocab and name in ("model.embed_tokens.weight", "lm_head.weight"):
            rows = rng_e.standard_normal((extra_vocab, w.shape[1]), dtype=np.float32) * 0.02
            new = np.concatenate([new, rows.astype(np.float32)], axis=0)
        out[name] = new
    return out


def llama_shapes(n: float, *, hidden: int | None = None) -> dict[str, tuple[int, ...]]:
    """A llama-like layout of about ``n`` parameters, in transformers' order (hidden
    2048 from 3e8 parameters up, 1024 from 5e7, else 256; vocabulary 32,000): the
    benchmarks' large models, whose values are written tensor by tensor."""
    hidden = hidden or (2048 if n >= 3e8 else 1024 if n >= 5e7 else 256)
    inter, vocab = int(hidden * 2.6875), 32000
    per_layer = 4 * hidden * hidden + 3 * hidden * inter + 2 * hidden
    layers = max(1, round((n - 2 * vocab * hidden - hidden) / per_layer))
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[p + f"self_attn.{proj}.weight"] = (hidden, hidden)
        shapes[p + "mlp.gate_proj.weight"] = (inter, hidden)
        shapes[p + "mlp.up_proj.weight"] = (inter, hidden)
        shapes[p + "mlp.down_proj.weight"] = (hidden, inter)
        shapes[p + "input_layernorm.weight"] = (hidden,)
        shapes[p + "post_attention_layernorm.weight"] = (hidden,)
    shapes["model.norm.weight"] = (hidden,)
    shapes["lm_head.weight"] = (vocab, hidden)
    return shapes


def layer_of(name: str) -> int | None:
    """The layer number in ``model.layers.N.…``, or None for embeddings and heads."""
    parts = name.split(".")
    if "layers" in parts:
        i = parts.index("layers")
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


def noisy_mean(parents: Sequence[State], *, rng: np.random.Generator, noise: float) -> State:
    """The mean of ``parents`` (over the tensors of the first; each averaged over the
    parents that have it) plus N(0, ``noise``): stand-in weights with the right names
    and shapes, not a merge formula.

    Raises:
        ValueError: no parents.
    """
    if not parents:
        raise ValueError("noisy_mean needs at least one parent")
    out: State = {}
    for name in parents[0]:
        mean = np.mean([p[name] for p in parents if name in p], axis=0)
        out[name] = (mean + rng.normal(0, noise, mean.shape)).astype(np.float32)
    return out


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
