"""Synthetic Hub snapshots with a known genealogy, for tests, benchmarks and demos.

:func:`generate_hub` writes ``root/<org>/<name>/`` repos the Hub emulator
serves: two foundations, fine-tunes, three generations of mergekit merges
(dare_ties, ties, task_arithmetic, slerp, linear, model_stock, passthrough),
LazyMergekit merges, mergekit-moe repos (no README), LoRA adapters, GGUF
quantizations, gated repos, merges naming repos that do not exist and broken
cards — each with ``.hub.json`` dates, downloads and likes.  The returned
:class:`HubManifest` (also saved as ``root/.manifest.json``, a dotfile the
emulator ignores) lists every repo with the parents it was made from.

Cards and recipes come from :mod:`~kinhub.sandbox.cards`; weights are stand-ins with
the right names and shapes (:func:`~kinhub.sandbox.tensors.noisy_mean` of the
parents), written by :mod:`~kinhub.sandbox.weights`.  :func:`write_repo` writes one
repo folder and is shared with :mod:`~kinhub.sandbox.families`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from kinhub.sandbox import cards
from kinhub.sandbox.emulator.repo import HUB_JSON, hub_time
from kinhub.sandbox.emulator.store import INDEX_NAME
from kinhub.sandbox.tensors import Arch, State, base_state, noisy_mean
from kinhub.sandbox.weights import write_safetensors

MANIFEST_NAME = ".manifest.json"
FOUNDATIONS = ("found-a/base-7b", "found-b/base-7b")
MISSING_ORG = "ghost-org"
_ORGS = (
    "alice",
    "bob-ai",
    "carol-lab",
    "dmitri",
    "eve-merges",
    "fern",
    "gus-ml",
    "hana",
    "ivo-research",
    "jun",
)
_MERGE_METHODS = (
    "dare_ties",
    "ties",
    "task_arithmetic",
    "slerp",
    "linear",
    "model_stock",
    "passthrough",
)
# Methods that subtract their base_model, and the role of every other input
# (the rule of crawler.recipe.resolve_roles, written out independently).
_ANCHOR_METHODS = frozenset({"dare_ties", "ties", "task_arithmetic", "model_stock"})
_INPUT_ROLE = {m: "slice" if m == "passthrough" else "ingredient" for m in _MERGE_METHODS}
# Share of the non-foundation repos per kind (the rest become fine-tunes).
_SHARES = {
    "finetune": 0.20,
    "adapter": 0.06,
    "quantized": 0.06,
    "merge1": 0.15,
    "lazymerge": 0.07,
    "moe": 0.04,
    "merge2": 0.12,
    "merge3": 0.08,
    "gated": 0.05,
    "missing_parent": 0.05,
    "broken_card": 0.06,
}
_EPOCH = datetime(2023, 3, 1, tzinfo=UTC)
# The two families' shape (tiny, so a 300-repo hub with weights takes seconds).
HUB_ARCHS = {
    "a": Arch(vocab=32, hidden=8, layers=2, intermediate=16, heads=2),
    "b": Arch(
        vocab=32, hidden=8, layers=2, intermediate=16, heads=2,
        architecture="MistralForCausalLM", model_type="mistral",
    ),
}  # fmt: skip
_LORA_RANK = 8


@dataclass
class ManifestRepo:
    """What the generator intended for one repo."""

    id: str
    kind: str  # foundation | finetune | adapter | quantized | merge | lazymerge | moe | ...
    relation: str | None  # merge | finetune | adapter | quantized | moe; None for foundations
    parents: list[str] = field(default_factory=list)  # every repo it was made from
    base: str | None = None  # the merge base / the model fine-tuned, adapted or quantized
    method: str | None = None  # merge method
    generation: int = 0
    family: str = "a"
    gated: bool = False
    missing_parents: list[str] = field(default_factory=list)  # parents that are not repos
    # merge and moe repos: the role of each parent by what the method does with it
    # (base = a subtracted anchor; slerp's base is one of its ingredients)
    roles: dict[str, str] = field(default_factory=dict)
    card: str = "plain"  # mergekit | lazymergekit | plain | none | unclosed | bad-yaml
    sharded: bool = False
    last_modified: str = ""


@dataclass
class HubManifest:
    """Every generated repo and its intended parents."""

    root: Path
    seed: int
    weights: bool
    repos: dict[str, ManifestRepo] = field(default_factory=dict)

    def ids(self, *, kind: str | None = None) -> list[str]:
        """Repo ids, optionally of one kind, in generation order."""
        return [r.id for r in self.repos.values() if kind is None or r.kind == kind]

    def save(self, path: Path | None = None) -> Path:
        """Write the manifest as JSON (default ``root/.manifest.json``)."""
        path = path or self.root / MANIFEST_NAME
        data = {
            "seed": self.seed,
            "weights": self.weights,
            "repos": [asdict(r) for r in self.repos.values()],
        }
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, root: Path, path: Path | None = None) -> HubManifest:
        """Read a manifest written by :meth:`save`."""
        data = json.loads((path or root / MANIFEST_NAME).read_text(encoding="utf-8"))
        repos = {r["id"]: ManifestRepo(**r) for r in data["repos"]}
        return cls(root=root, seed=data["seed"], weights=data["weights"], repos=repos)


def _counts(n_models: int) -> dict[str, int]:
    remaining = max(0, n_models - len(FOUNDATIONS))
    every = remaining >= len(_SHARES)
    counts = {k: max(1 if every else 0, int(share * remaining)) for k, share in _SHARES.items()}
    while sum(counts.values()) > remaining:
        biggest = max(counts, key=lambda k: counts[k])
        counts[biggest] -= 1
    counts["finetune"] += remaining - sum(counts.values())
    return counts


class _Writer:
    """Writes repos and remembers what it wrote (one per generate_hub call)."""

    def __init__(self, root: Path, *, seed: int, weights: bool) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.weights = weights
        self.manifest = HubManifest(root=root, seed=seed, weights=weights)
        self.tensors: dict[str, State] = {}
        self.counter = 0

    # -- ids, dates, files --------------------------------------------------------------

    def new_id(self, prefix: str, family: str) -> str:
        self.counter += 1
        org = self.rng.choice(_ORGS)
        return f"{org}/{prefix}-{family}-{self.counter:06d}"

    def dates(self, generation: int) -> tuple[str, str]:
        start = _EPOCH + timedelta(days=120 * generation)
        created = start + timedelta(seconds=self.rng.randrange(0, 400 * 86400))
        modified = created + timedelta(seconds=self.rng.randrange(0, 60 * 86400))
        return hub_time(created), hub_time(modified)

    def write_repo(
        self,
        entry: ManifestRepo,
        files: Mapping[str, str | bytes],
        *,
        config: bool = True,
        model_tensors: State | None = None,
    ) -> None:
        created, modified = self.dates(entry.generation)
        entry.last_modified = modified
        hub: dict[str, Any] = {
            "createdAt": created,
            "lastModified": modified,
            "downloads": int(self.rng.paretovariate(1.2) * 10),
            "likes": self.rng.randrange(0, 50),
        }
        if entry.gated:
            hub["gated"] = "manual"
        write_repo(
            self.root / entry.id,
            files,
            hub=hub,
            config=config_json(entry.family) if config else None,
            tensors=model_tensors if self.weights else None,
            shards=2 if entry.sharded else 1,
        )
        self.manifest.repos[entry.id] = entry

    # -- tensors ------------------------------------------------------------------------

    def derive_tensors(self, parents: list[str], *, family: str, noise: float) -> State | None:
        """Weights for a new model: mean of its known parents plus noise."""
        if not self.weights:
            return None
        known = [self.tensors[p] for p in parents if p in self.tensors]
        if not known:
            known = [self.tensors[_foundation(family)]]
        return noisy_mean(known, rng=self.np_rng, noise=noise)

    def remember(self, repo_id: str, tensors: State | None) -> None:
        if tensors is not None:
            self.tensors[repo_id] = tensors


def _foundation(family: str) -> str:
    return FOUNDATIONS[0] if family == "a" else FOUNDATIONS[1]


def config_json(family: str) -> str:
    """``config.json`` of a model of family ``a`` (llama) or ``b`` (mistral)."""
    return json.dumps(HUB_ARCHS[family].config(dtype="float32"), indent=2)


def write_repo(
    folder: Path,
    files: Mapping[str, str | bytes],
    *,
    hub: Mapping[str, Any],
    config: str | None = None,
    tensors: State | None = None,
    shards: int = 1,
) -> None:
    """Write one repo folder: ``files``, the Hub fields ``hub`` as ``.hub.json`` (dates,
    downloads, gating: what the emulator serves), ``config.json`` and, given
    ``tensors``, float32 weights in ``shards`` files.

    Raises:
        OSError: the folder cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    extra = {HUB_JSON: json.dumps(dict(hub))}
    if config is not None:
        extra["config.json"] = config
    for name, content in {**files, **extra}.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if tensors is not None:
        write_safetensors(folder, tensors, shards=shards)


def _gguf_stub() -> bytes:
    # A valid GGUF v3 header with no tensors and no metadata: magic, version, counts.
    return b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little") * 2


def generate_hub(
    root: Path,
    *,
    n_models: int,
    seed: int = 0,
    weights: bool = True,
    save_manifest: bool = True,
) -> HubManifest:
    """Write a synthetic hub of about ``n_models`` repos under ``root``.

    Deterministic for a given ``(n_models, seed, weights)``.  With
    ``weights=False`` no safetensors/GGUF files are written (fast, for
    benchmarks at 100,000 repos).  Merges that name missing parents count
    their ghost parents in the manifest but not in ``n_models``.

    Raises:
        ValueError: ``n_models`` < 2.
        OSError: the snapshot cannot be written.
    """
    if n_models < len(FOUNDATIONS):
        raise ValueError(f"n_models must be at least {len(FOUNDATIONS)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # A saved emulator index describes the previous contents; regenerating invalidates it.
    (root / INDEX_NAME).unlink(missing_ok=True)
    w = _Writer(root, seed=seed, weights=weights)
    counts = _counts(n_models)

    for repo_id, family in zip(FOUNDATIONS, ("a", "b"), strict=True):
        entry = ManifestRepo(id=repo_id, kind="foundation", relation=None, family=family)
        tensors = base_state(HUB_ARCHS[family], seed=w.np_rng) if weights else None
        name = repo_id.split("/")[1]
        w.write_repo(entry, {"README.md": cards.foundation_card(name)}, model_tensors=tensors)
        w.remember(repo_id, tensors)

    # (pool, family) → ids; sampled by index so picking stays O(k) at 100,000 repos.
    pools: dict[tuple[str, str], list[str]] = {
        (p, f): [] for p in ("finetune", "merge1", "merge2") for f in "ab"
    }

    def pick(pool_names: tuple[str, ...], family: str, k: int) -> list[str]:
        lists = [pools[(name, family)] for name in pool_names]
        lists = [lst for lst in lists if lst] or [
            pools[(name, f)] for name in pool_names for f in "ab" if pools[(name, f)]
        ]
        total = sum(len(lst) for lst in lists)
        picked: list[str] = []
        for _ in range(min(k, total) * 3):  # a few draws; duplicates are dropped below
            if len(dict.fromkeys(picked)) >= min(k, total):
                break
            i = w.rng.randrange(total)
            for lst in lists:
                if i < len(lst):
                    picked.append(lst[i])
                    break
                i -= len(lst)
        picked = list(dict.fromkeys(picked))[:k]
        while len(picked) < k:  # tiny hubs: reuse the foundation as an ingredient
            picked.append(_foundation(family))
        return list(dict.fromkeys(picked))

    def finetune(gated: bool = False) -> None:
        family = w.rng.choice("ab")
        base = _foundation(family)
        repo_id = w.new_id("sft", family)
        entry = ManifestRepo(
            id=repo_id,
            kind="gated" if gated else "finetune",
            relation="finetune",
            parents=[base],
            base=base,
            generation=1,
            family=family,
            gated=gated,
        )
        card = cards.finetune_card(
            repo_id.split("/")[1],
            base=base,
            declare_relation=w.rng.random() < 0.5,
            license_=w.rng.choice(["apache-2.0", "mit", "llama3"]),
        )
        tensors = w.derive_tensors([base], family=family, noise=0.005)
        w.write_repo(entry, {"README.md": card}, model_tensors=tensors)
        w.remember(repo_id, tensors)
        if not gated:
            pools[("finetune", family)].append(repo_id)

    def merge(generation: int, *, style: str = "mergekit", ghost: bool = False) -> None:
        family = w.rng.choice("ab")
        method = w.rng.choice(_MERGE_METHODS)
        source = {1: ("finetune",), 2: ("merge1", "finetune"), 3: ("merge2", "merge1")}[generation]
        k = {"slerp": 2, "model_stock": 3, "passthrough": 2}.get(method, w.rng.choice((2, 3)))
        models = pick(source, family, k)
        if method == "slerp" and len(models) < 2:
            models.append(_foundation(family))
        missing: list[str] = []
        if ghost:
            missing = [f"{MISSING_ORG}/deleted-model-{w.counter + 1:06d}"]
            models = [*models[: max(1, len(models) - 1)], *missing]
        base = models[0] if method == "slerp" else None
        if method in ("dare_ties", "ties", "task_arithmetic", "model_stock"):
            base = _foundation(family)
        repo_id = w.new_id("merge" if style == "mergekit" else "lazy", family)
        params = [
            (round(w.rng.uniform(0.2, 0.8), 2), round(w.rng.uniform(0.3, 0.7), 2)) for _ in models
        ]
        layers = HUB_ARCHS[family].layers
        config_yaml = cards.recipe(method, models=models, base=base, params=params, layers=layers)
        broken = style in ("unclosed", "bad-yaml")
        name = repo_id.split("/")[1]
        if style == "lazymergekit":
            readme = cards.lazymergekit_card(
                repo_id, models=models, base=base, config_yaml=config_yaml
            )
        elif broken:
            readme = cards.broken_card(name, base=models[0], kind=style)
        else:
            readme = cards.mergekit_card(
                name, method=method, models=models, base=base, config_yaml=config_yaml
            )
        parents = list(dict.fromkeys([*models, *([base] if base else [])]))
        roles = {p: _INPUT_ROLE[method] for p in models}
        if base is not None and method in _ANCHOR_METHODS:
            roles[base] = "base"
        kind = {"mergekit": "merge", "lazymergekit": "lazymerge"}.get(style, "broken_card")
        entry = ManifestRepo(
            id=repo_id,
            kind="missing_parent" if ghost else kind,
            relation="merge",
            parents=parents,
            base=base,
            method=method,
            generation=generation,
            family=family,
            missing_parents=missing,
            roles=roles,
            card=style,
            sharded=generation == 2 and w.rng.random() < 0.5,
        )
        tensors = w.derive_tensors(parents, family=family, noise=0.001)
        files = {"README.md": readme, "mergekit_config.yml": config_yaml}
        w.write_repo(entry, files, model_tensors=tensors)
        w.remember(repo_id, tensors)
        if not (ghost or broken) and generation < 3:
            pools[(f"merge{generation}", family)].append(repo_id)

    def moe() -> None:
        family = w.rng.choice("ab")
        experts = pick(("merge1", "finetune"), family, w.rng.choice((2, 4)))
        base = _foundation(family)
        repo_id = w.new_id("moe", family)
        entry = ManifestRepo(
            id=repo_id,
            kind="moe",
            relation="moe",
            parents=list(dict.fromkeys([base, *experts])),
            base=base,
            method="moe",
            # the base gives every non-expert weight: merged, not subtracted
            roles={base: "ingredient", **{e: "expert" for e in experts}},
            generation=2,
            family=family,
            card="none",
        )
        tensors = w.derive_tensors(experts, family=family, noise=0.001)
        files = {"mergekit_moe_config.yml": cards.moe_recipe(base=base, experts=experts)}
        w.write_repo(entry, files, model_tensors=tensors)

    def adapter() -> None:
        family = w.rng.choice("ab")
        base = (pick(("finetune",), family, 1) or [_foundation(family)])[0]
        repo_id = w.new_id("lora", family)
        entry = ManifestRepo(
            id=repo_id, kind="adapter", relation="adapter", parents=[base], base=base,
            generation=2, family=family,
        )  # fmt: skip
        adapter_cfg = {
            "base_model_name_or_path": base,
            "peft_type": "LORA",
            "r": _LORA_RANK,
            "lora_alpha": 16,
            "target_modules": ["q_proj", "v_proj"],
            "task_type": "CAUSAL_LM",
        }
        files: dict[str, str | bytes] = {
            "README.md": cards.adapter_card(repo_id.split("/")[1], base=base),
            "adapter_config.json": json.dumps(adapter_cfg, indent=2),
        }
        w.write_repo(entry, files, config=False)
        if weights:
            hidden = HUB_ARCHS[family].hidden
            prefix = "base_model.model.model.layers.0.self_attn.q_proj."
            lora = {
                f"{prefix}lora_A.weight": w.np_rng.normal(0, 0.02, (_LORA_RANK, hidden)).astype(
                    np.float32
                ),
                f"{prefix}lora_B.weight": np.zeros((hidden, _LORA_RANK), dtype=np.float32),
            }
            write_safetensors(w.root / repo_id, lora, basename="adapter_model")

    def quantized() -> None:
        family = w.rng.choice("ab")
        base = (pick(("merge1", "finetune"), family, 1) or [_foundation(family)])[0]
        repo_id = w.new_id("gguf", family)
        entry = ManifestRepo(
            id=repo_id, kind="quantized", relation="quantized", parents=[base], base=base,
            generation=2, family=family,
        )  # fmt: skip
        name = repo_id.split("/")[1]
        files: dict[str, str | bytes] = {
            "README.md": cards.quantized_card(
                name, base=base, declare_relation=w.rng.random() < 0.5
            )
        }
        if weights:
            files[f"{name}.Q4_K_M.gguf"] = _gguf_stub()
        w.write_repo(entry, files, config=False)

    plan: list[tuple[str, int]] = [(k, c) for k, c in counts.items()]
    for kind, count in plan:
        for _ in range(count):
            if kind == "finetune":
                finetune()
            elif kind == "gated":
                finetune(gated=True)
            elif kind == "adapter":
                adapter()
            elif kind == "quantized":
                quantized()
            elif kind in ("merge1", "merge2", "merge3"):
                merge(int(kind[-1]))
            elif kind == "lazymerge":
                merge(1, style="lazymergekit")
            elif kind == "moe":
                moe()
            elif kind == "missing_parent":
                merge(2, ghost=True)
            elif kind == "broken_card":
                merge(2, style=w.rng.choice(("unclosed", "bad-yaml")))
    if save_manifest:
        w.manifest.save()
    return w.manifest
