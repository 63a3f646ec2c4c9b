"""Kinship's Hub reads go through kinhub.hub: rate limits, typed errors, headers-only plans."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.hub.errors import RepoUnavailableError
from kinhub.hub.shared import shared_client
from kinhub.kinship.engine import compute_kinship, plan_kinship
from kinhub.kinship.errors import ModelSourceError
from kinhub.sandbox.emulator.faults import ScriptedFault
from kinhub.sandbox.families import Family
from typer.testing import CliRunner

from tests.conftest import HubEmulators


@pytest.fixture
def hub_root(families: dict[str, Family], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """base, ft1, ft2 of a small family as Hub repos ``kin/*``; the HF cache in tmp_path."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    fam = families["fp32-single"]
    root = tmp_path / "hub"
    for role in ("base", "ft1", "ft2"):
        shutil.copytree(fam[role], root / "kin" / role)
    return root


@pytest.fixture
def fresh_org(hub_root: Path) -> str:
    """The same repos under an org no cache has seen, so a warm cache (even the user's,
    were the cache location ignored) cannot hide a download."""
    org = f"dry-{uuid.uuid4().hex[:10]}"
    shutil.copytree(hub_root / "kin", hub_root / org)
    return org


def test_rate_limited_range_reads_wait_and_succeed(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    refs = ("kin/ft1", "kin/ft2", "kin/base")
    with hub_emulator(hub_root) as free:
        want = compute_kinship(*refs, sample=0.1, seed=1, endpoint=free.url)
    # About 85 resolve requests against 30 per second: the emulator answers 429s.
    with hub_emulator(hub_root, rate_limit=30, rate_window_s=1.0) as emu:
        got = compute_kinship(*refs, sample=0.1, seed=1, endpoint=emu.url)
        served = emu.stats()
        client = shared_client(emu.url).stats()
    # The quota bit: either 429s were waited out, or the client paced itself on the
    # RateLimit headers before any came (which of the two depends on timing).
    waited = client["rate_limited"]["resolve"] > 0 and client["retries"]["resolve"] > 0
    assert waited or client["throttled_s"]["resolve"] > 0
    assert served["statuses"].get("429", 0) == client["rate_limited"]["resolve"]
    assert got.metrics == want.metrics
    assert got.revisions == want.revisions


def test_a_429_on_a_range_read_is_waited_out(hub_root: Path, hub_emulator: HubEmulators) -> None:
    """Deterministic: the emulator answers the first three weight Range reads with 429
    (window spent, ``r=0``); the kinship read waits, retries and gets the same numbers."""
    refs = ("kin/ft1", "kin/ft2", "kin/base")
    with hub_emulator(hub_root) as free:
        want = compute_kinship(*refs, sample=0.1, seed=1, endpoint=free.url)
    script = [ScriptedFault(r"^GET .*\.safetensors", "429", times=3)]
    with hub_emulator(hub_root, script=script) as emu:
        got = compute_kinship(*refs, sample=0.1, seed=1, endpoint=emu.url)
        served = emu.stats()
        client = shared_client(emu.url).stats()
    assert served["statuses"].get("429", 0) == 3
    assert client["rate_limited"]["resolve"] == 3
    assert got.metrics == want.metrics


@pytest.mark.parametrize("sample", [None, 0.1])
def test_missing_repo_is_a_typed_not_found(
    hub_root: Path, sample: float | None, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu, pytest.raises(ModelSourceError, match="kin/nope") as info:
        compute_kinship("kin/ft1", "kin/nope", "kin/base", sample=sample, endpoint=emu.url)
    cause = info.value.__cause__
    assert isinstance(cause, RepoUnavailableError)
    assert cause.status == "not_found" and cause.repo_id == "kin/nope"
    assert "\n" not in str(info.value)


def test_missing_repo_in_a_plan_is_typed(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu, pytest.raises(ModelSourceError) as info:
        plan_kinship("kin/ft1", "kin/ft2", "kin/nope", endpoint=emu.url)
    assert isinstance(info.value.__cause__, RepoUnavailableError)
    assert info.value.__cause__.status == "not_found"


def test_dry_run_plan_reads_headers_only(
    hub_root: Path,
    fresh_org: str,
    families: dict[str, Family],
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    fam = families["fp32-single"]
    local = plan_kinship(str(fam["ft1"]), str(fam["ft2"]), str(fam["base"]))
    weights = sum(f.stat().st_size for f in (hub_root / fresh_org).rglob("*.safetensors"))
    refs = (f"{fresh_org}/ft1", f"{fresh_org}/ft2", f"{fresh_org}/base")
    with hub_emulator(hub_root) as emu:
        plan = plan_kinship(*refs, endpoint=emu.url)
        served = emu.stats()["bytes"]["resolve"]
    assert plan.to_dict() == local.to_dict()
    assert served < 0.01 * weights, (served, weights)
    # Nothing went into the HF cache: no weights file, no blob.
    cache = tmp_path / "hf_home"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".safetensors")]
    assert not [p for p in cache.rglob("blobs/*") if p.stat().st_size > 1024]


def test_exact_mode_downloads_into_the_configured_cache(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        r = compute_kinship("kin/ft1", "kin/ft2", "kin/base", endpoint=emu.url)
    assert r.mode == "exact"
    snapshots = list((tmp_path / "hf_home" / "hub").glob("models--kin--*/snapshots/*"))
    assert len(snapshots) == 3
    assert {s.name for s in snapshots} == set(r.revisions.values())


def test_cli_dry_run_on_hub_models_downloads_nothing(
    hub_root: Path,
    fresh_org: str,
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    """``kinhub kinship --dry-run`` on Hub ids: the plan from headers, no weights fetched."""
    weights = sum(f.stat().st_size for f in (hub_root / fresh_org).rglob("*.safetensors"))
    with hub_emulator(hub_root, set_endpoint=True) as emu:
        args = ["kinship", f"{fresh_org}/ft1", f"{fresh_org}/ft2", "--base", f"{fresh_org}/base"]
        args.append("--dry-run")
        result = CliRunner().invoke(app, [*args, "--format", "json"])
        with urllib.request.urlopen(f"{emu.url}/_emulator/stats") as response:
            stats = json.load(response)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"] > 0
    assert stats["bytes"]["resolve"] < 0.01 * weights, (stats["bytes"], weights)
    cache = tmp_path / "hf_home"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".safetensors")]
