"""merge_cal reproduces the ModelKinship conventions (oracle written here in numpy float64)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from kinhub.cli.merge_cal import app
from kinhub.kinship.engine import compute_kinship
from kinhub.sandbox.families import Family
from kinhub.sandbox.weights import save_model
from typer.testing import CliRunner

from tests.conftest import FAMILY_KINDS, HubEmulators, load_f64
from tests.kinship.conftest import tied


def _reference_state(path: Path) -> dict[str, np.ndarray]:
    """transformers' state_dict view: a tied lm_head is a key of its own."""
    s = load_f64(path)
    if tied(path, s):
        s["lm_head.weight"] = s["model.embed_tokens.weight"]
    return s


def _q(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # an all-zero delta gives 0/0 = NaN, as in torch
        return np.clip(np.round(127 * (x / np.max(np.abs(x)))), -127, 127)


def _metrics(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "cs": float(np.sqrt((a @ b) ** 2 / ((a @ a) * (b @ b)))),
            "pcc": float(np.corrcoef(a, b)[0, 1]),
            "ed": float(np.linalg.norm(a - b)),
        }


def oracle(fam: Family, x: str, y: str, *, split: bool, low: bool) -> dict[str, float]:
    s1, s2, sz = (_reference_state(fam[n]) for n in (x, y, "base"))
    vocab = sz["lm_head.weight"].shape[0]
    deltas = [
        ((s1[k][:vocab] - z).ravel(), (s2[k][:vocab] - z).ravel())
        for k, z in sz.items()
        if k in s1 and k in s2
    ]
    if not split:
        a = np.concatenate([d[0] for d in deltas])
        b = np.concatenate([d[1] for d in deltas])
        return _metrics(_q(a), _q(b)) if low else _metrics(a, b)
    out = {}
    for m in ("cs", "pcc", "ed"):
        num = den = 0.0
        for a, b in deltas:
            v = _metrics(_q(a), _q(b))[m] if low else _metrics(a, b)[m]
            if not np.isnan(v):
                num += v * a.size
                den += a.size
        out[m] = num / den
    return out


def _run(args: list[str]) -> dict[str, float]:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    vals = {}
    for line in r.stdout.splitlines():
        m = re.fullmatch(
            r"(\w+): Model Kinship based on [A-Za-z ]+(?: \(weighted average\))?: (.+)", line
        )
        assert m, line
        vals[m.group(1)] = float(m.group(2))
    return vals


@pytest.mark.parametrize("kind", list(FAMILY_KINDS))
@pytest.mark.parametrize(
    ("split", "low"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_merge_cal_matches_reference_conventions(
    families: dict[str, Family], kind: str, split: bool, low: bool
) -> None:
    fam = families[kind]
    x, y = ("ft2", "ft1") if "resized" in kind else ("ft1", "ft3")
    args = [str(fam[x]), str(fam[y]), str(fam["base"]), "cs,pcc,ed"]
    args += ["--split-calculation"] * split + ["--low-precision"] * low
    got = _run(args)
    want = oracle(fam, x, y, split=split, low=low)
    for m in ("cs", "pcc", "ed"):
        if split:  # the reference prints 4 decimals in split mode
            assert got[m] == pytest.approx(round(want[m], 4), abs=1e-12), m
        else:
            assert got[m] == pytest.approx(want[m], rel=1e-9), m


def test_absolute_cosine_and_space_separated_metrics(
    families: dict[str, Family], tmp_path: Path
) -> None:
    fam = families["fp32-single"]
    # A model whose task vector is minus ft1's: signed cosine is negative, the reference's
    # cosine is its absolute value.
    s1, sz = load_f64(fam["ft1"]), load_f64(fam["base"])
    anti = {k: (2 * sz[k] - s1[k]).astype(np.float32) for k in sz}
    cfg = json.loads((fam["base"] / "config.json").read_text())
    save_model(anti, tmp_path / "anti", config=cfg, dtype="fp32")
    native = compute_kinship(str(tmp_path / "anti"), str(fam["ft2"]), str(fam["base"]))
    assert native.metrics["cs"] < -0.3
    got = _run([str(tmp_path / "anti"), str(fam["ft2"]), str(fam["base"]), "cs pcc"])
    assert set(got) == {"cs", "pcc"}
    assert got["cs"] == pytest.approx(-native.metrics["cs"], rel=1e-9)
    assert got["pcc"] == pytest.approx(native.metrics["pcc"], rel=1e-9)


def test_unknown_metric_exits_nonzero(families: dict[str, Family]) -> None:
    fam = families["fp32-single"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kinhub.cli.merge_cal",
            str(fam["ft1"]),
            str(fam["ft2"]),
            str(fam["base"]),
            "cs,kl",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "unknown metric 'kl'" in proc.stderr and "cs" in proc.stderr
    same = CliRunner().invoke(app, [str(fam["ft1"]), str(fam["ft1"]), str(fam["base"]), "cs"])
    assert same.exit_code != 0


@pytest.mark.parametrize("low", [False, True])
def test_split_skips_nan_tensors_like_the_reference(
    families: dict[str, Family], tmp_path: Path, low: bool
) -> None:
    fam = families["fp32-single"]
    # ft1 with its norm weights left at the base's: those keys have an all-zero delta, so
    # cs/pcc are NaN there (and with --low-precision everything is, 0/0) and get skipped.
    s1, sz = load_f64(fam["ft1"]), load_f64(fam["base"])
    frozen = {k: (sz[k] if k.endswith("norm.weight") else s1[k]).astype(np.float32) for k in sz}
    cfg = json.loads((fam["base"] / "config.json").read_text())
    save_model(frozen, tmp_path / "frozen", config=cfg, dtype="fp32")
    fam.paths["frozen"] = tmp_path / "frozen"
    try:
        args = [str(tmp_path / "frozen"), str(fam["ft2"]), str(fam["base"]), "cs,pcc,ed"]
        got = _run([*args, "--split-calculation"] + ["--low-precision"] * low)
        want = oracle(fam, "frozen", "ft2", split=True, low=low)
    finally:
        del fam.paths["frozen"]
    for m in ("cs", "pcc", "ed"):
        assert got[m] == pytest.approx(round(want[m], 4), abs=1e-12), m


def test_merge_cal_reads_hub_repos(
    families: dict[str, Family],
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    fam = families["bf16-tied"]
    root = tmp_path / "hub"
    for role in ("base", "ft1", "ft3"):
        shutil.copytree(fam[role], root / "kin" / role)
    local = _run([str(fam["ft1"]), str(fam["ft3"]), str(fam["base"]), "cs,pcc,ed"])
    with hub_emulator(root, set_endpoint=True):
        hub = _run(["kin/ft1", "kin/ft3", "kin/base@main", "cs,pcc,ed"])
    assert hub == pytest.approx(local, rel=1e-12)
