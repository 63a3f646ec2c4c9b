"""A family for the weight check: true merges of every common mergekit method (at
ordinary and extreme weights and densities) and planted lies, as Hub repos.

The merges are made by mergekit itself, which is a test dependency only: the caller
passes ``merge(config, out)``, a function that runs one mergekit configuration (a
dict whose model references are local folders) into the folder ``out``.  The cards
carry the same configuration with Hub ids, as mergekit writes them.

Repos (``wc/`` prefix by default): ``base`` and ``other`` (two foundations of one
shape), fine-tunes ``ft1``…``ft7`` of ``base`` sharing ``rho`` of their change;
``true-<name>`` for each entry of :data:`TRUE_MERGES`; ``lie-<name>`` for each entry of
:data:`LIES`.  :func:`write_checked_family` returns the expected verdict of every
judged edge (child, parent) → consistent | contradicted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kinhub.sandbox import cards
from kinhub.sandbox.tensors import Arch, base_state, finetune
from kinhub.sandbox.weights import save_model

ARCH = Arch(vocab=512, hidden=128, layers=2, intermediate=352)
FINETUNES = tuple(f"ft{i}" for i in range(1, 8))
Merge = Callable[[dict[str, Any], Path], None]


@dataclass(frozen=True)
class MergeSpec:
    """One mergekit merge: method, ingredients (with per-model parameters), anchor."""

    name: str
    method: str
    models: tuple[str, ...]
    base: str | None = None
    params: tuple[dict[str, float], ...] = ()
    global_params: dict[str, float] | None = None

    def config(self, ref: Callable[[str], str]) -> dict[str, Any]:
        doc: dict[str, Any] = {"merge_method": self.method, "dtype": "bfloat16", "models": []}
        for i, m in enumerate(self.models):
            entry: dict[str, Any] = {"model": ref(m)}
            if self.params:
                entry["parameters"] = dict(self.params[i])
            doc["models"].append(entry)
        if self.base:
            doc["base_model"] = ref(self.base)
        if self.global_params:
            doc["parameters"] = dict(self.global_params)
        return doc


def _w(*weights: float, **extra: float) -> tuple[dict[str, float], ...]:
    return tuple({"weight": w, **extra} for w in weights)


TRUE_MERGES: tuple[MergeSpec, ...] = (
    MergeSpec("linear", "linear", ("ft1", "ft2"), params=_w(0.5, 0.5)),
    MergeSpec("linear-extreme", "linear", ("ft1", "ft2"), params=_w(0.95, 0.05)),
    MergeSpec("linear-four-weak", "linear", ("ft1", "ft2", "ft3", "ft4"),
              params=_w(0.5, 0.3, 0.15, 0.05)),
    MergeSpec("slerp", "slerp", ("ft1", "ft2"), base="ft1", global_params={"t": 0.5}),
    MergeSpec("slerp-extreme", "slerp", ("ft1", "ft2"), base="ft1", global_params={"t": 0.1}),
    MergeSpec("nuslerp", "nuslerp", ("ft1", "ft2"), params=_w(0.5, 0.5)),
    MergeSpec("task-arithmetic", "task_arithmetic", ("ft1", "ft2"), base="base",
              params=_w(1.0, 0.3)),
    MergeSpec("ties", "ties", ("ft1", "ft2"), base="base", params=_w(1.0, 1.0, density=0.5)),
    MergeSpec("ties-sparse", "ties", ("ft1", "ft2", "ft3"), base="base",
              params=_w(1.0, 1.0, 1.0, density=0.2)),
    MergeSpec("dare-ties", "dare_ties", ("ft1", "ft2"), base="base",
              params=_w(0.5, 0.5, density=0.5)),
    MergeSpec("dare-ties-sparse", "dare_ties", ("ft1", "ft2"), base="base",
              params=_w(0.5, 0.5, density=0.1)),
    MergeSpec("dare-linear-sparse", "dare_linear", ("ft1", "ft2"), base="base",
              params=_w(0.5, 0.5, density=0.1)),
    MergeSpec("dare-ties-six", "dare_ties", FINETUNES[:6], base="base",
              params=_w(*([0.3] * 6), density=0.3)),
    MergeSpec("dare-ties-seven-sparse", "dare_ties", FINETUNES, base="base",
              params=_w(*([0.3] * 7), density=0.1)),
    MergeSpec("ties-seven-sparse", "ties", FINETUNES, base="base",
              params=_w(*([1.0] * 7), density=0.2)),
    MergeSpec("della", "della", ("ft1", "ft2"), base="base",
              params=_w(0.5, 0.5, density=0.4, epsilon=0.1), global_params={"lambda": 1.0}),
    MergeSpec("breadcrumbs", "breadcrumbs", ("ft1", "ft2"), base="base",
              params=_w(0.5, 0.5, density=0.8, gamma=0.01)),
    MergeSpec("model-stock", "model_stock", ("ft1", "ft2", "ft3"), base="base"),
)  # fmt: skip


@dataclass(frozen=True)
class Lie:
    """A planted lie: the weights of ``weights_of`` under a card that declares ``claim``
    (a merge) or a fine-tune of ``finetune_of``."""

    name: str
    weights_of: str  # a fine-tune name or ``true-<merge>``
    claim: MergeSpec | None = None
    finetune_of: str | None = None


LIES: tuple[Lie, ...] = (
    Lie("reupload-claims-two", "ft7",
        claim=MergeSpec("x", "dare_ties", ("ft1", "ft2"), base="base",
                        params=_w(0.5, 0.5, density=0.5))),
    Lie("reupload-claims-four", "ft7",
        claim=MergeSpec("x", "linear", ("ft1", "ft2", "ft3", "ft4"), params=_w(1, 1, 1, 1))),
    Lie("reupload-claims-six", "ft7",
        claim=MergeSpec("x", "ties", FINETUNES[:6], base="base",
                        params=_w(*([1.0] * 6), density=0.5))),
    Lie("wrong-parents-linear", "true-linear",
        claim=MergeSpec("x", "linear", ("ft3", "ft4"), params=_w(0.5, 0.5))),
    Lie("wrong-parents-dare", "true-dare-ties",
        claim=MergeSpec("x", "dare_ties", ("ft3", "ft4"), base="base",
                        params=_w(0.5, 0.5, density=0.5))),
    Lie("wrong-parents-sparse", "true-dare-ties-sparse",
        claim=MergeSpec("x", "dare_ties", ("ft5", "ft6"), base="base",
                        params=_w(0.5, 0.5, density=0.1))),
    Lie("wrong-anchor", "true-task-arithmetic",
        claim=MergeSpec("x", "task_arithmetic", ("ft1", "ft2"), base="other",
                        params=_w(1.0, 0.3))),
    Lie("sibling-claims-finetune", "ft7", finetune_of="ft1"),
    Lie("wrong-foundation", "ft7", finetune_of="other"),
)  # fmt: skip


def _hub(downloads: int = 10) -> dict[str, Any]:
    stamp = "2024-05-01T00:00:00.000Z"
    return {"createdAt": stamp, "lastModified": stamp, "downloads": downloads}


def _finish(folder: Path, readme: str, *, config_yaml: str | None = None) -> None:
    (folder / "README.md").write_text(readme, encoding="utf-8")
    (folder / ".hub.json").write_text(json.dumps(_hub()), encoding="utf-8")
    if config_yaml is not None:
        (folder / "mergekit_config.yml").write_text(config_yaml, encoding="utf-8")


def _merge_card(repo: str, spec: MergeSpec, ident: Callable[[str], str]) -> tuple[str, str]:
    text = yaml.safe_dump(spec.config(ident), sort_keys=False)
    base = ident(spec.base) if spec.base else None
    readme = cards.mergekit_card(
        repo.split("/")[1],
        method=spec.method,
        models=[ident(m) for m in spec.models],
        base=base,
        config_yaml=text,
    )
    return readme, text


def write_checked_family(
    root: Path, *, merge: Merge, rho: float = 0.5, seed: int = 0, org: str = "wc"
) -> dict[tuple[str, str], str]:
    """Write the family under ``root`` (``root/<org>/<name>``) and return the expected
    verdict of each judged edge (child repo id, parent repo id)."""
    out = root / org

    def ident(name: str) -> str:
        return f"{org}/{name}"

    def local(name: str) -> str:
        return str(out / name)

    cfg = ARCH.config()
    finetunes_expected: list[tuple[str, str]] = []
    base = base_state(ARCH, seed=seed)
    save_model(base, out / "base", config=cfg)
    _finish(out / "base", cards.foundation_card("base"))
    save_model(base_state(ARCH, seed=seed + 999), out / "other", config=cfg)
    _finish(out / "other", cards.foundation_card("other"))
    for i, name in enumerate(FINETUNES, start=1):
        st = finetune(base, seed=seed + i, shared_seed=seed + 100, rho=rho)
        save_model(st, out / name, config=cfg)
        _finish(
            out / name,
            cards.finetune_card(name, base=ident("base"), declare_relation=True, license_="mit"),
        )
        expected_ft = (ident(name), ident("base"))
        finetunes_expected.append(expected_ft)
    expected: dict[tuple[str, str], str] = dict.fromkeys(finetunes_expected, "consistent")
    for spec in TRUE_MERGES:
        repo = f"true-{spec.name}"
        merge(spec.config(local), out / repo)
        readme, text = _merge_card(ident(repo), spec, ident)
        _finish(out / repo, readme, config_yaml=text)
        for parent in {*spec.models, *([spec.base] if spec.base else [])}:
            expected[(ident(repo), ident(parent))] = "consistent"
    for lie in LIES:
        repo = f"lie-{lie.name}"
        folder = out / repo
        folder.mkdir(parents=True, exist_ok=True)
        src = out / lie.weights_of
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(src / f, folder / f)
        if lie.claim is not None:
            readme, text = _merge_card(ident(repo), lie.claim, ident)
            _finish(folder, readme, config_yaml=text)
            true_parents = {"ft1", "ft2"} if lie.name == "wrong-anchor" else set()
            for parent in lie.claim.models:
                verdict = "consistent" if parent in true_parents else "contradicted"
                expected[(ident(repo), ident(parent))] = verdict
            if lie.claim.base:  # the anchor: "base" is the true one, "other" is not
                verdict = "consistent" if lie.claim.base == "base" else "contradicted"
                expected[(ident(repo), ident(lie.claim.base))] = verdict
        else:
            assert lie.finetune_of is not None
            _finish(
                folder,
                cards.finetune_card(
                    repo, base=ident(lie.finetune_of), declare_relation=True, license_="mit"
                ),
            )
            expected[(ident(repo), ident(lie.finetune_of))] = "contradicted"
    return expected
