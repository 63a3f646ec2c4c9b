"""Sampled mode: accuracy at 2%, interval coverage, and Hub reads limited to the samples."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from kinhub.kinship.engine import compute_kinship
from kinhub.kinship.errors import ModelSourceError
from kinhub.sandbox.families import Family

from tests.conftest import HubEmulators

FRACTION = 0.02


@pytest.fixture(scope="module")
def exact(big_family: Family) -> dict[tuple[str, str], dict[str, float]]:
    fam = big_family
    return {
        p: compute_kinship(str(fam[p[0]]), str(fam[p[1]]), str(fam["base"])).metrics
        for p in (("ft1", "ft2"), ("ft1", "ft3"))
    }


def test_big_family_is_big_enough(big_family: Family) -> None:
    assert big_family.arch.num_params() > 5_000_000


def test_error_and_interval_coverage_over_50_seeds(big_family: Family, exact: dict) -> None:
    fam = big_family
    want = exact[("ft1", "ft2")]
    covered = {"cs": 0, "pcc": 0}
    for seed in range(50):
        r = compute_kinship(
            str(fam["ft1"]), str(fam["ft2"]), str(fam["base"]), sample=FRACTION, seed=seed
        )
        assert r.mode == "sampled" and r.sample_fraction == FRACTION
        for m in covered:
            assert abs(r.metrics[m] - want[m]) <= 0.01, (seed, m)
            iv = r.intervals[m]
            assert iv["low"] <= r.metrics[m] <= iv["high"]
            covered[m] += iv["low"] <= want[m] <= iv["high"]
    assert covered["cs"] >= 45 and covered["pcc"] >= 45, covered


def test_reads_about_the_fraction(big_family: Family, exact: dict) -> None:
    fam = big_family
    total_bytes = sum(
        f.stat().st_size for r in ("ft1", "ft3", "base") for f in fam[r].glob("*.safetensors")
    )
    for seed in range(5):
        r = compute_kinship(
            str(fam["ft1"]), str(fam["ft3"]), str(fam["base"]), sample=FRACTION, seed=seed
        )
        assert abs(r.metrics["cs"] - exact[("ft1", "ft3")]["cs"]) <= 0.01
        assert abs(r.metrics["pcc"] - exact[("ft1", "ft3")]["pcc"]) <= 0.01
        assert r.bytes_read < 2 * FRACTION * total_bytes


def test_hub_reads_only_sampled_ranges(
    big_family: Family, exact: dict, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    root = tmp_path / "hub"
    for role in ("base", "ft1", "ft2"):
        shutil.copytree(big_family[role], root / "kin" / role)
    weights = sum(f.stat().st_size for f in root.rglob("*.safetensors"))
    with hub_emulator(root) as emu:
        r = compute_kinship(
            "kin/ft1", "kin/ft2", "kin/base", sample=FRACTION, seed=3, endpoint=emu.url
        )
        served = sum(emu.stats()["bytes"].values())  # resolve and the CDN hop
    want = exact[("ft1", "ft2")]
    assert abs(r.metrics["cs"] - want["cs"]) <= 0.01
    assert served < 0.05 * weights, (served, weights)
    assert r.bytes_read <= served
    assert all(len(v or "") == 40 for v in r.revisions.values())
    # Nothing was downloaded into the HF cache (HF_HOME, read at call time).
    cache = Path(os.environ["HF_HOME"])
    assert not [p for p in cache.rglob("*") if ".safetensors" in p.name]


def test_hub_exact_downloads_into_cache(
    families: dict[str, Family], tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    fam = families["bf16-sharded"]
    root = tmp_path / "hub"
    for role in ("base", "ft1", "ft3"):
        shutil.copytree(fam[role], root / "kin" / role)
    local = compute_kinship(str(fam["ft1"]), str(fam["ft3"]), str(fam["base"]))
    with hub_emulator(root) as emu:
        r = compute_kinship("kin/ft1", "kin/ft3", "kin/base@main", endpoint=emu.url)
    assert r.metrics == pytest.approx(local.metrics, rel=1e-12)
    assert r.revisions["base"] is not None and len(r.revisions["base"]) == 40
    # Into the cache HF_HOME names now (not the one huggingface_hub saw at import).
    cached = Path(os.environ["HF_HOME"]) / "hub" / "models--kin--base" / "snapshots"
    assert [p.name for p in cached.iterdir()] == [r.revisions["base"]]


def test_hub_missing_repo_is_typed(
    families: dict[str, Family], tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    fam = families["fp32-single"]
    root = tmp_path / "hub"
    for role in ("base", "ft1"):
        shutil.copytree(fam[role], root / "kin" / role)
    with hub_emulator(root) as emu:
        for sample in (None, 0.1):
            with pytest.raises(ModelSourceError, match="kin/nope"):
                compute_kinship("kin/ft1", "kin/nope", "kin/base", sample=sample, endpoint=emu.url)
