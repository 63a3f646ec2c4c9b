"""The generated families are what they claim: merge formulas, shards, tied and resized."""

from __future__ import annotations

import json

import numpy as np
from kinhub.sandbox.families import Family
from kinhub.sandbox.tensors import Arch, base_state, finetune, merge_ties

from tests.conftest import load_f64


def test_merges_follow_their_formulas(families: dict[str, Family]) -> None:
    fam = families["fp32-single"]
    z, a, c = (load_f64(fam[r]) for r in ("base", "ft1", "ft3"))
    lin, ta = load_f64(fam["linear"]), load_f64(fam["task_arithmetic"])
    for k in z:
        np.testing.assert_allclose(lin[k], (a[k] + c[k]) / 2, rtol=0, atol=1e-6)
        want = z[k] + 0.6 * (a[k] - z[k]) + 0.4 * (c[k] - z[k])
        np.testing.assert_allclose(ta[k], want, rtol=0, atol=1e-6)


def test_ties_trims_elects_and_averages() -> None:
    arch = Arch(vocab=64, hidden=8, layers=1, intermediate=16)
    z = base_state(arch, seed=1)
    ms = [finetune(z, seed=s, shared_seed=9, rho=0.3) for s in (2, 3)]
    merged = merge_ties(z, ms, [1.0, 1.0], density=0.5)
    k = "model.layers.0.mlp.up_proj.weight"
    d = np.stack([(m[k] - z[k]).astype(np.float64).ravel() for m in ms])
    keep = np.abs(d) >= np.sort(np.abs(d), axis=1)[:, [d.shape[1] // 2]]
    t = np.where(keep, d, 0)
    sign = np.sign(t.sum(0))
    agree = (np.sign(t) == sign) & (t != 0)
    want = np.where(agree, t, 0).sum(0) / np.maximum(agree.sum(0), 1)
    got = (merged[k] - z[k]).astype(np.float64).ravel()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert (got == 0).mean() > 0.1  # trimming left zeros


def test_shards_index_and_variants(families: dict[str, Family]) -> None:
    fam = families["bf16-sharded"]
    index = json.loads((fam["base"] / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert shards == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert index["metadata"]["total_size"] == 2 * fam.arch.num_params()
    tied = families["bf16-tied"]
    assert "lm_head.weight" not in load_f64(tied["base"])
    assert json.loads((tied["base"] / "config.json").read_text())["tie_word_embeddings"] is True
    resized = load_f64(families["fp32-resized-sharded"]["ft2"])
    assert resized["lm_head.weight"].shape[0] == fam.arch.vocab + 24
