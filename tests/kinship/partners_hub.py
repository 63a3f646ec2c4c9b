"""A generated Hub family with card evaluations, for ``partners`` and ``plan`` tests.

Real tiny llama weights (``kinhub.sandbox.tensors``): fine-tunes of ``fam/base`` made
with a chosen share ``rho`` of one common direction, so the kinship of two fine-tunes
is about ``sqrt(rho_a * rho_b)`` (pcc) and the order of kinship is known in advance.

=================  =====  ======  ==========================================
repo               rho    eval    notes
=================  =====  ======  ==========================================
fam/base           –      –       foundation, apache-2.0
fam/ft-a           0.8    60      the model asked about
fam/ft-b           0.8    70      strong, closely related to ft-a
fam/ft-c           0.05   68      strong, distant from ft-a
fam/ft-d           0.01   40      weak, the most distant
fam/ft-nc          0.5    66      cc-by-nc-4.0 (license conflict)
fam/ft-vocab       0.5    64      8 extra vocabulary rows
fam/ft-gated       0.5    –       gated: card and weights unreadable
fam/ft-wide        –      75      fine-tune card, but 3 layers: incompatible
fam/noweights      –      50      config and card only, no safetensors
m/ties             –      71      TIES of ft-a + ft-b on fam/base
m/low              –      30      linear merge of ft-b + ft-c (a merge that lost)
other/base         –      –       unrelated foundation (hidden 48)
other/ft           –      80      fine-tune of other/base
other/ft-wide      –      55      fine-tune card, but 3 layers: incompatible
=================  =====  ======  ==========================================
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from kinhub.sandbox.tensors import Arch, base_state, finetune, merge_linear, merge_ties
from kinhub.sandbox.weights import save_model

ARCH = Arch(vocab=128, hidden=32, layers=2, intermediate=64)
RHO = {"fam/ft-a": 0.8, "fam/ft-b": 0.8, "fam/ft-c": 0.05, "fam/ft-d": 0.01, "fam/ft-nc": 0.5}
EVALS = {
    "fam/ft-a": 60.0,
    "fam/ft-b": 70.0,
    "fam/ft-c": 68.0,
    "fam/ft-d": 40.0,
    "fam/ft-nc": 66.0,
    "fam/ft-vocab": 64.0,
    "fam/ft-wide": 75.0,
    "fam/noweights": 50.0,
    "m/ties": 71.0,
    "m/low": 30.0,
    "other/ft": 80.0,
    "other/ft-wide": 55.0,
}


def card(
    name: str,
    *,
    base: str | None,
    license_: str = "apache-2.0",
    score: float | None = None,
    extra: str = "",
) -> str:
    lines = ["---", f"license: {license_}", "library_name: transformers"]
    if base:
        lines += [f"base_model: {base}", "base_model_relation: finetune"]
    if extra:
        lines.append(extra.rstrip("\n"))
    if score is not None:
        lines += [
            "model-index:",
            f"- name: {name}",
            "  results:",
            "  - task:",
            "      type: text-generation",
            "    dataset:",
            "      name: ARC",
            "      type: ai2_arc",
            "    metrics:",
            "    - type: acc",
            f"      value: {score}",
            "  - task:",
            "      type: text-generation",
            "    dataset:",
            "      name: HellaSwag",
            "      type: hellaswag",
            "    metrics:",
            "    - type: acc",
            f"      value: {score}",
        ]
    lines += ["---", "", f"# {name}", ""]
    return "\n".join(lines) + "\n"


def _hub(folder: Path, *, gated: bool = False, downloads: int = 10) -> None:
    meta = {
        "createdAt": "2024-01-01T00:00:00.000Z",
        "lastModified": "2024-01-02T00:00:00.000Z",
        "downloads": downloads,
        "likes": 1,
    }
    if gated:
        meta["gated"] = "manual"
    (folder / ".hub.json").write_text(json.dumps(meta), encoding="utf-8")


def generate_partner_hub(root: Path, *, seed: int = 0) -> Path:
    """Write the family above under ``root`` (``root/<org>/<name>``); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    base = base_state(ARCH, seed=seed)
    cfg = ARCH.config(dtype="bfloat16")

    def write(repo: str, state: dict[str, np.ndarray] | None, text: str, **kw: object) -> Path:
        folder = root / repo
        if state is not None:
            save_model(state, folder, config=kw.pop("config", cfg), dtype="bf16")  # type: ignore[arg-type]
        else:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
        (folder / "README.md").write_text(text, encoding="utf-8")
        _hub(folder, gated=bool(kw.get("gated", False)))
        return folder

    write("fam/base", base, card("base", base=None))
    states: dict[str, dict[str, np.ndarray]] = {}
    for i, (repo, rho) in enumerate(RHO.items()):
        states[repo] = finetune(base, seed=seed + 10 + i, shared_seed=seed + 100, rho=rho)
        lic = "cc-by-nc-4.0" if repo == "fam/ft-nc" else "apache-2.0"
        write(repo, states[repo], card(repo, base="fam/base", license_=lic, score=EVALS[repo]))
    vocab = finetune(base, seed=seed + 30, shared_seed=seed + 100, rho=0.5, extra_vocab=8)
    write(
        "fam/ft-vocab",
        vocab,
        card("ft-vocab", base="fam/base", score=EVALS["fam/ft-vocab"]),
        config=ARCH.config(extra_vocab=8),
    )
    gated = finetune(base, seed=seed + 31, shared_seed=seed + 100, rho=0.5)
    write("fam/ft-gated", gated, card("ft-gated", base="fam/base"), gated=True)
    wide_arch = Arch(vocab=ARCH.vocab, hidden=ARCH.hidden, layers=3, intermediate=ARCH.intermediate)
    wide = base_state(wide_arch, seed=seed + 32)
    write(
        "fam/ft-wide",
        wide,
        card("ft-wide", base="fam/base", score=EVALS["fam/ft-wide"]),
        config=wide_arch.config(),
    )
    write("fam/noweights", None, card("noweights", base="fam/base", score=50.0))
    ties = merge_ties(base, [states["fam/ft-a"], states["fam/ft-b"]], [1.0, 1.0], density=0.5)
    recipe = (
        "models:\n  - model: fam/ft-a\n    parameters:\n      weight: 1.0\n      density: 0.5\n"
        "  - model: fam/ft-b\n    parameters:\n      weight: 1.0\n      density: 0.5\n"
        "merge_method: ties\nbase_model: fam/base\ndtype: bfloat16\n"
    )
    folder = write(
        "m/ties",
        ties,
        card(
            "ties",
            base=None,
            score=EVALS["m/ties"],
            extra="base_model:\n- fam/ft-a\n- fam/ft-b\ntags:\n- merge\n- mergekit",
        ),
    )
    (folder / "mergekit_config.yml").write_text(recipe, encoding="utf-8")
    low = merge_linear([states["fam/ft-b"], states["fam/ft-c"]], [0.5, 0.5])
    folder = write(
        "m/low",
        low,
        card(
            "low",
            base=None,
            score=EVALS["m/low"],
            extra="base_model:\n- fam/ft-b\n- fam/ft-c\ntags:\n- merge\n- mergekit",
        ),
    )
    (folder / "mergekit_config.yml").write_text(
        "models:\n  - model: fam/ft-b\n    parameters:\n      weight: 0.5\n"
        "  - model: fam/ft-c\n    parameters:\n      weight: 0.5\n"
        "merge_method: linear\ndtype: bfloat16\n",
        encoding="utf-8",
    )
    other_arch = Arch(vocab=ARCH.vocab, hidden=48, layers=2, intermediate=ARCH.intermediate)
    other = base_state(other_arch, seed=seed + 40)
    write("other/base", other, card("other-base", base=None), config=other_arch.config())
    other_ft = finetune(other, seed=seed + 41, shared_seed=seed + 42, rho=0.5)
    write(
        "other/ft",
        other_ft,
        card("other-ft", base="other/base", score=EVALS["other/ft"]),
        config=other_arch.config(),
    )
    other_wide = Arch(vocab=ARCH.vocab, hidden=48, layers=3, intermediate=ARCH.intermediate)
    write(
        "other/ft-wide",
        base_state(other_wide, seed=seed + 43),
        card("other-ft-wide", base="other/base", score=EVALS["other/ft-wide"]),
        config=other_wide.config(),
    )
    return root


__all__ = ["ARCH", "EVALS", "RHO", "card", "generate_partner_hub"]
