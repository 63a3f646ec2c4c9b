"""Generated sketches with known kinship: many models' values at one plan's
coordinates, made as families with numpy (no weights written), for the relatives
tests and ``scripts/bench_relatives.py``.

Model 0 is the foundation ``gen/base`` (N(0, 0.02) values).  The rest come in
sub-families of about ``family_size``, each with its own shared direction ``u_f``:

* fine-tunes of the base that share ``u_f``: ``base + scale·(√ρ·u_f + √(1−ρ)·e)``,
  ρ drawn from [0.2, 0.8] (cs of two of them ≈ √(ρ₁ρ₂));
* fine-tunes of an earlier member of the family: ``parent + scale/3·e`` (their true
  parent is by far their nearest relative);
* merges: the mean of two earlier members, one of them sometimes from the previous
  family, plus a little noise.

``parents[i]`` lists model ``i``'s true parents (indices); the declared genealogy a
test or benchmark stores may leave some out on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FOUNDATION = "gen/base"


@dataclass
class SketchFamilies:
    names: list[str]
    parents: list[list[int]]
    kinds: list[str]  # base | finetune | child | merge
    values: np.ndarray  # [models, size] float32


def sketch_families(
    models: int,
    size: int,
    *,
    seed: int = 0,
    family_size: int = 50,
    scale: float = 0.002,
) -> SketchFamilies:
    """``models`` sketches of ``size`` values (see the module docstring).

    Raises: ValueError (fewer than two models, or a size below one)."""
    if models < 2 or size < 1:
        raise ValueError(f"need at least two models and one value, got {models} and {size}")
    rng = np.random.default_rng(seed)
    values = np.empty((models, size), dtype=np.float32)
    values[0] = rng.standard_normal(size, dtype=np.float32) * 0.02
    names: list[str] = [FOUNDATION]
    parents: list[list[int]] = [[]]
    kinds: list[str] = ["base"]
    base = values[0]
    family: list[int] = []
    previous: list[int] = []
    u = np.zeros(size, dtype=np.float32)
    for i in range(1, models):
        f = (i - 1) // family_size
        if (i - 1) % family_size == 0:
            previous, family = family, []
            u = rng.standard_normal(size, dtype=np.float32)
        draw = rng.random()
        e = rng.standard_normal(size, dtype=np.float32)
        if len(family) < 3 or draw < 0.6:
            rho = rng.uniform(0.2, 0.8)
            values[i] = base + scale * (np.sqrt(rho) * u + np.sqrt(1 - rho) * e)
            kind, mine = "finetune", [0]
        elif draw < 0.85:
            p = int(rng.choice(family))
            values[i] = values[p] + (scale / 3) * e
            kind, mine = "child", [p]
        else:
            pool = family + previous[:10] if previous and rng.random() < 0.3 else family
            a, b = (int(x) for x in rng.choice(pool, size=2, replace=False))
            values[i] = 0.5 * (values[a] + values[b]) + (scale / 10) * e
            kind, mine = "merge", [a, b]
        names.append(f"gen{f}/{kind}-{i}")
        parents.append(mine)
        kinds.append(kind)
        family.append(i)
    return SketchFamilies(names=names, parents=parents, kinds=kinds, values=values)
