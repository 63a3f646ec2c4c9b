"""A small, fixed three-generation merge family for the kinship job planner and worker.

:func:`generate_merge_family` writes ``root/<org>/<name>/`` repos the Hub emulator
serves, with fixed ids so tests can list the jobs the family calls for by hand:

* generation 0: ``fam/base`` and an unrelated ``other/base``;
* generation 1: fine-tunes ``fam/ft-a`` … ``fam/ft-d`` of ``fam/base`` and
  ``other/ft-x`` of ``other/base``; merges ``m1/ties``, ``m1/dare-ties``,
  ``m1/task-arith``, ``m1/stock`` (anchored on ``fam/base``), ``m1/frankenmerge``
  (passthrough ``slices:``) and ``m1/moe`` (a ``mergekit_moe_config.yml``);
* generation 2: ``m2/slerp-slices`` (SLERP written with ``slices:``, as most
  mergekit users write it), ``m2/slerp-models`` (SLERP written with ``models:``),
  ``m2/linear``, ``m2/mixed`` (a linear merge across the two unrelated
  families), ``m2/hostile`` (a card-only recipe naming local paths and URLs next
  to two real models) and ``m2/hostile-base`` (TIES whose base is ``/etc/passwd``);
* generation 3: ``m3/task-arith`` (anchored) and ``m3/linear`` (no anchor).

Cards and configs are in the formats mergekit writes (:mod:`synthetic_cards`).
Weights (optional) are tiny float32 tensors: fine-tunes add noise to their base,
merges take the mean of their inputs plus noise — stand-ins with the right names
and shapes, not the merge formulas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from kinhub.sandbox import synthetic_cards as cards
from kinhub.sandbox.emulator.store import INDEX_NAME
from kinhub.sandbox.synthetic import _config_json, _random_tensors, _write_weights

# References a crawled card may hold that must never reach a job or the file system.
HOSTILE_REFS = ("/etc/passwd", "../../x", "file:///etc/passwd", "~/.ssh/id_rsa", "C:\\x")
_LAYERS = 2


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
    root: Path
    repos: dict[str, FamilyRepo] = field(default_factory=dict)

    def ids(self) -> list[str]:
        return list(self.repos)


def _slerp_models_recipe(a: str, b: str) -> str:
    """SLERP written with ``models:`` and a scalar ``t`` (the other common way)."""
    return (
        f"models:\n  - model: {a}\n  - model: {b}\n"
        f"merge_method: slerp\nbase_model: {a}\nparameters:\n  t: 0.4\ndtype: bfloat16\n"
    )


def _hostile_recipe(models: list[str]) -> str:
    lines = ["models:"]
    for model in models:
        lines += [f"  - model: {model}", "    parameters:", "      weight: 0.5"]
    return "\n".join([*lines, "merge_method: linear", "dtype: float16"]) + "\n"


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
    tensors: dict[str, dict[str, np.ndarray]] = {}
    day = [0]

    def write(repo: FamilyRepo, files: dict[str, str], *, downloads: int) -> None:
        folder = root / repo.id
        folder.mkdir(parents=True, exist_ok=True)
        day[0] += 1
        stamp = f"2024-{1 + repo.generation:02d}-{day[0]:02d}T00:00:00.000Z"
        hub = {"createdAt": stamp, "lastModified": stamp, "downloads": downloads, "likes": 1}
        files = {**files, ".hub.json": json.dumps(hub), "config.json": _config_json("a")}
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        if weights:
            if repo.parents:
                mean = {
                    k: np.mean([tensors[p][k] for p in repo.parents if p in tensors], axis=0)
                    for k in tensors[next(p for p in repo.parents if p in tensors)]
                }
                own = {
                    k: (v + rng.normal(0, 0.002, v.shape)).astype(np.float32)
                    for k, v in mean.items()
                }
            else:
                own = _random_tensors(rng)
            tensors[repo.id] = own
            _write_weights(folder, own, sharded=False)
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
            method, models=models, base=base, params=params, layers=_LAYERS
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
        config=_slerp_models_recipe("m1/stock", "fam/ft-d"),
    )
    merge("m2/linear", 2, "linear", ["m1/task-arith", "fam/ft-c"], None)
    merge("m2/mixed", 2, "linear", ["fam/ft-a", "other/ft-x"], None)
    hostile_models = [*HOSTILE_REFS, "fam/ft-a", "fam/ft-b"]
    hostile = _hostile_recipe(hostile_models)
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


__all__ = ["HOSTILE_REFS", "FamilyRepo", "MergeFamily", "generate_merge_family"]
