"""Float64 accumulators of one streaming pass (no torch here: metrics import this cheaply)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Sums:
    """Float64 accumulators over a = θ_A − θ_Z, b = θ_B − θ_Z (plus optional extras)."""

    n: int = 0
    sa: float = 0.0
    sb: float = 0.0
    saa: float = 0.0
    sbb: float = 0.0
    sab: float = 0.0
    agree: int = 0  # entries non-zero in both with the same sign
    both: int = 0  # entries non-zero in both
    amax_a: float = 0.0
    amax_b: float = 0.0

    def add(self, o: Sums) -> None:
        for f in fields(self):
            if f.name.startswith("amax"):
                setattr(self, f.name, max(getattr(self, f.name), getattr(o, f.name)))
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(o, f.name))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
