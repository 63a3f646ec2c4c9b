"""A sketch's summary: its plan-weighted values projected to ``SUMMARY_DIM`` numbers,
so the candidates of ``kinhub relatives`` are picked without reading full sketches.

The projection is a count-sketch (feature hashing): value ``i`` of the plan is added,
times a sign ``s_i`` and ``√w_i`` (its Horvitz–Thompson weight,
:func:`kinhub.kinship.sketch_compare.value_weights`), to bucket ``h_i``.  Buckets and
signs are a pure function of the plan key, balanced (every bucket holds ``n / d`` or
one more values).  Two properties make it the right summary:

* it is linear, so ``P(X) − P(Z) = P(X − Z)``: one stored summary per model serves
  every base ``Z``;
* inner products are preserved in expectation, ``E⟨P a, P b⟩ = Σ w·a·b``, so the
  cosine of two projected task vectors estimates the ``cs`` of
  ``kinhub kinship --sketch`` with a standard error of about ``√((1 + cs²) / d)``
  (≈ 0.09 at d = 128): good for a shortlist, not for the answer, which is computed
  from the full sketches.

Computed in float64 and stored as float32 (512 bytes at d = 128).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from kinhub.kinship.sketch_compare import value_weights
from kinhub.kinship.sketch_plan import SketchLayout

SUMMARY_DIM = 128


class Projection:
    """The count-sketch of one plan (see the module docstring)."""

    def __init__(self, layout: SketchLayout, dim: int = SUMMARY_DIM) -> None:
        weights = value_weights(layout)
        n = weights.size
        self.dim = max(1, min(dim, n))
        digest = hashlib.sha256(f"summary:{layout.key}:{self.dim}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        buckets = rng.permutation(np.arange(n) % self.dim)
        signs = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.order = np.argsort(buckets, kind="stable")
        self.bounds = np.searchsorted(buckets[self.order], np.arange(self.dim))
        self.scale = (signs * np.sqrt(weights))[self.order]
        self.size = n

    def apply(self, values: np.ndarray) -> np.ndarray:
        """The float64 summaries of ``values`` (``[n]`` or ``[m, n]``, plan order)."""
        x = np.asarray(values, np.float64)[..., self.order] * self.scale
        return np.add.reduceat(x, self.bounds, axis=-1)

    def summary_bytes(self, values: np.ndarray) -> bytes:
        """One sketch's summary as stored (float32 little-endian)."""
        return self.apply(values).astype("<f4").tobytes()


@lru_cache(maxsize=8)
def projection(layout: SketchLayout) -> Projection:
    """The (cached) projection of ``layout``."""
    return Projection(layout)
