"""Native cs/pcc/ed against an independent float64 numpy computation on generated families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kinhub.kinship.engine import compute_kinship
from kinhub.sandbox.families import Family
from kinhub.sandbox.weights import save_model

from tests.conftest import FAMILY_KINDS, load_f64
from tests.kinship.conftest import tied

PAIRS = [("ft1", "ft2"), ("ft1", "ft3"), ("linear", "ties"), ("task_arithmetic", "ft2")]


def native_oracle(fam: Family, x: str, y: str) -> dict[str, float]:
    """Concatenate full task vectors with numpy: common leading rows, tied head counted once."""
    sa, sb, sz = load_f64(fam[x]), load_f64(fam[y]), load_f64(fam["base"])
    ties = [tied(fam[n], s) for n, s in ((x, sa), (y, sb), ("base", sz))]
    for s, t in zip((sa, sb, sz), ties, strict=True):
        if t and not all(ties):
            s["lm_head.weight"] = s["model.embed_tokens.weight"]
        elif t:
            s.pop("lm_head.weight", None)
    va, vb = [], []
    for name, z in sz.items():
        rows = min(sa[name].shape[0], sb[name].shape[0], z.shape[0])
        va.append((sa[name][:rows] - z[:rows]).ravel())
        vb.append((sb[name][:rows] - z[:rows]).ravel())
    a, b = np.concatenate(va), np.concatenate(vb)
    return {
        "cs": float(a @ b / np.sqrt((a @ a) * (b @ b))),
        "pcc": float(np.corrcoef(a, b)[0, 1]),
        "ed": float(np.linalg.norm(a - b)),
        "n": a.size,
    }


@pytest.mark.parametrize("kind", list(FAMILY_KINDS))
@pytest.mark.parametrize("pair", PAIRS)
def test_native_matches_float64_oracle(
    families: dict[str, Family], kind: str, pair: tuple[str, str]
) -> None:
    fam = families[kind]
    if kind.endswith("resized-sharded") and "ft2" not in pair:
        pair = (pair[0], "ft2")
    want = native_oracle(fam, *pair)
    got = compute_kinship(str(fam[pair[0]]), str(fam[pair[1]]), str(fam["base"]))
    assert got.params_compared == want["n"]
    for m in ("cs", "pcc", "ed"):
        assert got.metrics[m] == pytest.approx(want[m], rel=1e-9, abs=0), m


def test_resized_vocabulary_reports_rows(families: dict[str, Family]) -> None:
    fam = families["fp32-resized-sharded"]
    got = compute_kinship(str(fam["ft1"]), str(fam["ft2"]), str(fam["base"]))
    assert got.dropped["rows"] == {
        "model.embed_tokens.weight": {"b": 24},
        "lm_head.weight": {"b": 24},
    }


def test_tied_embeddings_counted_once(families: dict[str, Family]) -> None:
    fam = families["bf16-tied"]
    got = compute_kinship(str(fam["ft1"]), str(fam["ft2"]), str(fam["base"]))
    assert got.params_compared == fam.arch.num_params(tied=True)
    assert got.dropped["tied"] == {"a": True, "b": True, "base": True}


def test_other_metrics(families: dict[str, Family]) -> None:
    fam = families["fp32-single"]
    got = compute_kinship(
        str(fam["ft1"]),
        str(fam["ft3"]),
        str(fam["base"]),
        metrics=["sign", "ratio", "layer_cs", "cs"],
        per_tensor=True,
    )
    sa, sb, sz = load_f64(fam["ft1"]), load_f64(fam["ft3"]), load_f64(fam["base"])
    a = np.concatenate([(sa[k] - z).ravel() for k, z in sz.items()])
    b = np.concatenate([(sb[k] - z).ravel() for k, z in sz.items()])
    nz = (a != 0) & (b != 0)
    assert got.metrics["sign"] == pytest.approx(
        np.mean(np.sign(a[nz]) == np.sign(b[nz])), rel=1e-12
    )
    assert got.metrics["ratio"] == pytest.approx(np.linalg.norm(a) / np.linalg.norm(b), rel=1e-9)
    layer0 = [k for k in sz if k.startswith("model.layers.0.")]
    la = np.concatenate([(sa[k] - sz[k]).ravel() for k in layer0])
    lb = np.concatenate([(sb[k] - sz[k]).ravel() for k in layer0])
    want0 = la @ lb / np.sqrt((la @ la) * (lb @ lb))
    assert got.metrics["layer_cs"]["0"] == pytest.approx(want0, rel=1e-9)
    assert set(got.metrics["layer_cs"]) == {"0", "1", "other"}
    assert set(got.breakdown) == set(sz)


def test_mixed_dtypes_including_fp16(families: dict[str, Family], tmp_path: Path) -> None:
    fam = families["fp32-single"]
    cfg = json.loads((fam["base"] / "config.json").read_text())
    for role, dtype in (("ft1", "fp16"), ("ft3", "bf16")):
        state = {k: v.astype("float32") for k, v in load_f64(fam[role]).items()}
        save_model(state, tmp_path / role, config=cfg, dtype=dtype, shards=2)
    mixed = Family(root=tmp_path, arch=fam.arch, paths={**fam.paths})
    mixed.paths.update(ft1=tmp_path / "ft1", ft3=tmp_path / "ft3")
    want = native_oracle(mixed, "ft1", "ft3")
    got = compute_kinship(str(mixed["ft1"]), str(mixed["ft3"]), str(mixed["base"]))
    for m in ("cs", "pcc", "ed"):
        assert got.metrics[m] == pytest.approx(want[m], rel=1e-9, abs=0), m
