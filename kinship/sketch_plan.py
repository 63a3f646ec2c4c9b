"""Where a sketch samples: coordinates shared by every model with the same tensors.

A sketch plan is a pure function of the tensor names and shapes, the sketch size, the
block length and a seed — nothing about the values — so every model of one
architecture (the same tensor names and shapes) gets the same coordinates, and any
triple of a family lines up coordinate by coordinate.

Stratified over tensors: the budget of ``size // block`` blocks is shared in
proportion to each tensor's elements (at least one block each, at most every block
of a tiny tensor); within a tensor the blocks are drawn without replacement from its
``ceil(numel / block)`` slots by a generator seeded with the seed, the tensor's name
and its shape.  A block is ``block`` neighbouring elements, so every read is one
contiguous byte range.  Each block stands for ``slots / m`` of its tensor's slots
(the Horvitz–Thompson weight the estimates use).

The sketch has about ``size`` values whatever the model's size (at most one extra
block per tensor too small for its share); the default is 65,536 values in blocks of
256 elements, i.e. 256 KiB stored as float32 and 128 KiB read from a bf16 model.  The
block is a trade: every block is one request (on the CDN: latency, not quota, is what
a sketch costs, scripts/bench_sketch.py), while more, shorter blocks average over
more independent places of each tensor.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_SIZE = 65_536
DEFAULT_BLOCK = 256
DEFAULT_SEED = 0
PLAN_VERSION = 1


@dataclass(frozen=True)
class PlanTensor:
    """One tensor's blocks: ``starts`` (element offsets, sorted) of ``block`` elements
    each (the last slot may be shorter)."""

    name: str
    numel: int
    starts: tuple[int, ...]

    def spans(self, block: int) -> list[tuple[int, int]]:
        return [(s, min(self.numel, s + block)) for s in self.starts]

    def weight(self, block: int) -> float:
        """Slots per sampled block: what one block stands for."""
        return math.ceil(self.numel / block) / len(self.starts)


@dataclass(frozen=True)
class SketchLayout:
    """A sketch plan: its key, parameters and per-tensor blocks in plan order."""

    key: str
    size: int
    block: int
    seed: int
    tensors: tuple[PlanTensor, ...]

    @property
    def num_params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def num_values(self) -> int:
        return sum(hi - lo for t in self.tensors for lo, hi in t.spans(self.block))

    def to_layout(self) -> list[Any]:
        """The JSON stored in ``sketch_plan.layout``."""
        return [[t.name, t.numel, list(t.starts)] for t in self.tensors]

    @classmethod
    def from_stored(
        cls, *, key: str, size: int, block: int, seed: int, layout: Sequence[Any]
    ) -> SketchLayout:
        tensors = tuple(
            PlanTensor(str(name), int(numel), tuple(int(s) for s in starts))
            for name, numel, starts in layout
        )
        return cls(key=key, size=size, block=block, seed=seed, tensors=tensors)


def plan_key(shapes: Mapping[str, Sequence[int]], *, size: int, block: int, seed: int) -> str:
    """64-hex key of a plan: tensor names and shapes, size, block, seed, version."""
    doc = {
        "v": PLAN_VERSION,
        "size": size,
        "block": block,
        "seed": seed,
        "tensors": sorted([name, list(shape)] for name, shape in shapes.items()),
    }
    return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()


def _tensor_rng(seed: int, name: str, shape: Sequence[int]) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{name}:{list(shape)}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def make_plan(
    shapes: Mapping[str, Sequence[int]],
    *,
    size: int = DEFAULT_SIZE,
    block: int = DEFAULT_BLOCK,
    seed: int = DEFAULT_SEED,
) -> SketchLayout:
    """The plan for tensors ``name → shape`` (deterministic; see the module docstring).

    Raises:
        ValueError: a size or block below 1, or no tensor with elements.
    """
    if size < 1 or block < 1:
        raise ValueError(f"sketch size and block must be positive, got {size} and {block}")
    numels = {name: math.prod(shape) for name, shape in shapes.items()}
    total = sum(numels.values())
    if total == 0:
        raise ValueError("no tensor elements to sketch")
    budget = max(1, size // block)
    tensors: list[PlanTensor] = []
    for name in sorted(numels):
        numel = numels[name]
        if numel == 0:
            continue
        slots = math.ceil(numel / block)
        m = min(slots, max(1, round(budget * numel / total)))
        rng = _tensor_rng(seed, name, shapes[name])
        picked = np.sort(rng.choice(slots, size=m, replace=False))
        tensors.append(PlanTensor(name, numel, tuple(int(s) * block for s in picked)))
    key = plan_key(shapes, size=size, block=block, seed=seed)
    return SketchLayout(key=key, size=size, block=block, seed=seed, tensors=tuple(tensors))
