"""Fixed model families with known relations, for kinship, planner and worker tests.

Two families, each written where a test asks:

* :func:`make_family` — real weights made with the real formulas: a llama-shaped
  ``base``, fine-tunes ``ft1``/``ft2``/``ft3`` sharing 0.5, 0.5 and 0.1 of one
  direction (so their kinship is known in advance) and merges of ``ft1`` + ``ft3``
  (``linear``, ``task_arithmetic``, ``ties``), as plain model folders in bf16/fp16/fp32,
  single-file or sharded, tied or with a resized vocabulary.
* :func:`generate_merge_family` — a three-generation merge genealogy as Hub repos the
  emulator serves, with fixed ids so tests can list the jobs it calls for by hand:

  - generation 0: ``fam/base`` and an unrelated ``other/base``;
  - generation 1: fine-tunes ``fam/ft-a`` … ``fam/ft-d`` of ``fam/base`` and
    ``other/ft-x`` of ``other/base``; merges ``m1/ties``, ``m1/dare-ties``,
    ``m1/task-arith``, ``m1/stock`` (anchored on ``fam/base``), ``m1/frankenmerge``
    (passthrough ``slices:``) and ``m1/moe`` (a ``mergekit_moe_config.yml``);
  - generation 2: ``m2/slerp-slices`` (SLERP written with ``slices:``, as most
    mergekit users write it), ``m2/slerp-models`` (SLERP written with ``models:``),
    ``m2/linear``, ``m2/mixed`` (a linear merge across the two unrelated
    families), ``m2/hostile`` (a card-only recipe naming local paths and URLs next
    to two real models) and ``m2/hostile-base`` (TIES whose base is ``/etc/passwd``);
  - generation 3: ``m3/task-arith`` (anchored) and ``m3/linear`` (no anchor).

  Cards and configs are in the formats mergekit writes (:mod:`~kinhub.sandbox.cards`).
  Weights (optional) are tiny float32 stand-ins: fine-tunes add noise to their base,
  merges take the mean of their inputs plus noise — the right names and shapes, not
  the merge formulas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from kinhub.sandbox import cards
from kinhub.sandbox.emulator.store import INDEX_NAME
from kinhub.sandbox.hub import HUB_ARCHS, config_json, write_repo
from kinhub.sandbox.tensors import (
    Arch,
    State,
    base_state,
    finetune,
    merge_linear,
    merge_task_arithmetic,
    merge_ties,
    noisy_mean,
)
from kinhub.sandbox.weights import save_model

# References a crawled card may hold that must never reach a job or the file system.
HOSTILE_REFS = ("/etc/passwd", "../../x", "file:///etc/passwd", "~/.ssh/id_rsa", "C:\\x")
_ARCH = HUB_ARCHS["a"]
# torch_dtype in config.json, by the dtype the weights are written in.
_CONFIG_DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass
class Family:
    """Paths of a family made by :func:`make_family`, by role name."""

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
    linear/task_arithmetic/ties merges of ft1+ft3 under ``root`` (deterministic for a
    ``seed``).

    ``resized`` > 0 gives ft2 that many extra vocabulary rows.

    Raises:
        ValueError: an unknown ``dtype``.
        OSError: the folders cannot be written.
    """
    arch = arch or Arch()
    fam = Family(root=root, arch=arch)
    base = base_state(arch, seed=seed, tied=tied)
    fts = {
        "ft1": finetune(base, seed=seed + 1, shared_seed=seed + 100, rho=0.5),
        "ft2": finetune(base, seed=seed + 2, shared_seed=seed + 100, rho=0.5, extra_vocab=resized),
        "ft3": finetune(base, seed=seed + 3, shared_seed=seed + 100, rho=0.1),
    }
    cfg = arch.config(tied=tied, dtype=_CONFIG_DTYPE.get(dtype, "float32"))
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


@dataclass(frozen=True)
class FamilyRepo:
    """One repo of the family and how it was made."""

    id: str
    generation: int
    method: str | None = None  # merge method; None for foundations and fine-tunes
    parents: tuple[str, ...] = ()  # the models its weights came from (Hub ids)
    base: str | None = None  # base_model as written in the recipe


@dataclass
class MergeFamily:
    """The repos :func:`generate_merge_family` wrote under ``root``, by id."""

    root: Path
    repos: dict[str, FamilyRepo] = field(default_factory=dict)

    def ids(self) -> list[str]:
        """Repo ids in the order they were written."""
        return list(self.repos)


def _card(name: str, method: str, models: list[str], base: str | None, config: str) -> str:
    return cards.mergekit_card(name, method=method, models=models, base=base, config_yaml=config)


def generate_merge_family(root: Path, *, weights: bool = True, seed: int = 0) -> MergeFamily:
    """Write the family under ``root`` (deterministic for a ``seed``); see the module doc.

    Raises:
        OSError: the snapshot cannot be written.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / INDEX_NAME).unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    family = MergeFamily(root=root)
    tensors: dict[str, State] = {}
    day = [0]
    config = config_json("a")

    def write(repo: FamilyRepo, files: dict[str, str], *, downloads: int) -> None:
        day[0] += 1
        stamp = f"2024-{1 + repo.generation:02d}-{day[0]:02d}T00:00:00.000Z"
        hub = {"createdAt": stamp, "lastModified": stamp, "downloads": downloads, "likes": 1}
        own: State | None = None
        if weights:
            known = [tensors[p] for p in repo.parents if p in tensors]
            own = noisy_mean(known, rng=rng, noise=0.002) if known else base_state(_ARCH, seed=rng)
            tensors[repo.id] = own
        write_repo(root / repo.id, files, hub=hub, config=config, tensors=own)
        family.repos[repo.id] = repo

    for name in ("fam/base", "other/base"):
        write(
            FamilyRepo(name, 0),
            {"README.md": cards.foundation_card(name.split("/")[1])},
            downloads=1000,
        )
    fine_tunes = {
        "fam/ft-a": "fam/base",
        "fam/ft-b": "fam/base",
        "fam/ft-c": "fam/base",
        "fam/ft-d": "fam/base",
        "other/ft-x": "other/base",
    }
    for name, base in fine_tunes.items():
        card = cards.finetune_card(
            name.split("/")[1], base=base, declare_relation=True, license_="apache-2.0"
        )
        write(FamilyRepo(name, 1, parents=(base,), base=base), {"README.md": card}, downloads=100)

    def merge(
        repo_id: str,
        generation: int,
        method: str,
        models: list[str],
        base: str | None,
        *,
        config: str | None = None,
        downloads: int = 10,
    ) -> None:
        params = [(0.5, 0.5)] * len(models)
        text = config or cards.recipe(
            method, models=models, base=base, params=params, layers=_ARCH.layers
        )
        readme = _card(repo_id.split("/")[1], method, models, base, text)
        parents = tuple(dict.fromkeys([*models, *([base] if base else [])]))
        write(
            FamilyRepo(repo_id, generation, method, parents, base),
            {"README.md": readme, "mergekit_config.yml": text},
            downloads=downloads,
        )

    ft = ["fam/ft-a", "fam/ft-b", "fam/ft-c", "fam/ft-d"]
    merge("m1/ties", 1, "ties", ft[:3], "fam/base", downloads=50)
    merge("m1/dare-ties", 1, "dare_ties", ["fam/ft-b", "fam/ft-d"], "fam/base", downloads=40)
    merge("m1/task-arith", 1, "task_arithmetic", ["fam/ft-a", "fam/ft-d"], "fam/base")
    merge("m1/stock", 1, "model_stock", ft[:3], "fam/base", downloads=30)
    merge("m1/frankenmerge", 1, "passthrough", ["fam/ft-a", "fam/ft-b"], None)
    write(
        FamilyRepo("m1/moe", 1, "moe", ("fam/base", *ft), "fam/base"),
        {"mergekit_moe_config.yml": cards.moe_recipe(base="fam/base", experts=ft)},
        downloads=20,
    )
    merge("m2/slerp-slices", 2, "slerp", ["m1/ties", "m1/dare-ties"], "m1/ties", downloads=70)
    merge(
        "m2/slerp-models",
        2,
        "slerp",
        ["m1/stock", "fam/ft-d"],
        "m1/stock",
        config=cards.slerp_models_recipe("m1/stock", "fam/ft-d"),
    )
    merge("m2/linear", 2, "linear", ["m1/task-arith", "fam/ft-c"], None)
    merge("m2/mixed", 2, "linear", ["fam/ft-a", "other/ft-x"], None)
    hostile_models = [*HOSTILE_REFS, "fam/ft-a", "fam/ft-b"]
    hostile = cards.plain_linear_recipe(hostile_models)
    write(
        FamilyRepo("m2/hostile", 2, "linear", ("fam/ft-a", "fam/ft-b")),
        {"README.md": _card("hostile", "linear", hostile_models, None, hostile)},
        downloads=5,
    )
    merge("m2/hostile-base", 2, "ties", ["fam/ft-c", "fam/ft-d"], "/etc/passwd", downloads=5)
    merge(
        "m3/task-arith",
        3,
        "task_arithmetic",
        ["m2/slerp-slices", "m2/linear"],
        "fam/base",
        downloads=90,
    )
    merge("m3/linear", 3, "linear", ["m2/slerp-slices", "m2/slerp-models"], None, downloads=80)
    return family


__all__ = [
    "HOSTILE_REFS",
    "Family",
    "FamilyRepo",
    "MergeFamily",
    "generate_merge_family",
    "make_family",
]
