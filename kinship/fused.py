"""Fused float64 moments of two task-vector chunks (numba, one pass, GIL released).

``moments(a, b, z)`` takes three float32 chunks of θ_A, θ_B, θ_Z (every supported dtype
converts to float32 exactly) and returns Σa, Σb, Σa², Σb², Σab over a = A − Z, b = B − Z,
with the differences and products formed in float64 (exact for bf16/f16/f32 inputs: a
product of two 24-bit significands fits in 53 bits) and float64 accumulation.  One pass
over the inputs replaces ten array passes of the torch formulation; ``fastmath`` lets
LLVM vectorize the sums (it only reorders float64 additions).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, fastmath=True, cache=True)
def _moments(
    a: np.ndarray, b: np.ndarray, z: np.ndarray
) -> tuple[float, float, float, float, float]:  # pragma: no cover - compiled
    sa = 0.0
    sb = 0.0
    saa = 0.0
    sbb = 0.0
    sab = 0.0
    for i in range(a.shape[0]):
        zz = np.float64(z[i])
        x = np.float64(a[i]) - zz
        y = np.float64(b[i]) - zz
        sa += x
        sb += y
        saa += x * x
        sbb += y * y
        sab += x * y
    return sa, sb, saa, sbb, sab


@njit(nogil=True, cache=True)
def _widen_bf16(src: np.ndarray, dst: np.ndarray) -> None:  # pragma: no cover - compiled
    # One vectorized pass; numpy's casting shift takes 3x as long.
    for i in range(src.shape[0]):
        dst[i] = np.uint32(src[i]) << np.uint32(16)


def to_float32(arr: np.ndarray, dtype: str, scratch: np.ndarray) -> np.ndarray:
    """Stored elements (BF16 as uint16 bits, F16, F32) as float32, exactly.

    ``scratch`` is a uint32 array of at least ``len(arr)`` elements; the result may view it.
    BF16 is the upper half of a float32, so shifting its bits left by 16 is the conversion.
    """
    n = arr.shape[0]
    if dtype == "F32":
        return arr
    out = scratch[:n]
    if dtype == "BF16":
        _widen_bf16(arr, out)
        return out.view(np.float32)
    f32 = out.view(np.float32)
    np.copyto(f32, arr)  # float16 -> float32 is exact
    return f32


def moments(
    a: np.ndarray, b: np.ndarray, z: np.ndarray
) -> tuple[float, float, float, float, float]:
    """(Σa, Σb, Σa², Σb², Σab) for float32 arrays of equal length (see module docstring)."""
    sa, sb, saa, sbb, sab = _moments(a, b, z)
    return float(sa), float(sb), float(saa), float(sbb), float(sab)
