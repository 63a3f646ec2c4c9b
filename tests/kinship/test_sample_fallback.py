"""``--sample`` on models where sampling cannot save bytes computes exactly and says so:
mode ``exact``, ``"sampled": false``, a note; never more bytes read than exact mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.kinship import sampled
from kinhub.kinship.engine import compute_kinship
from kinhub.kinship.service import measure_kinship
from kinhub.sandbox.emulator import HubEmulator
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import ORG, write_family


@pytest.fixture(autouse=True)
def fallback_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sampled.ENV_FALLBACK, "1")  # tests/conftest.py turns it off


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny_hub")
    write_family(root, n=2)
    return root


@pytest.fixture(scope="module")
def emu(hub_root: Path, module_hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with module_hub_emulator(hub_root) as server:
        yield server


def _local(hub_root: Path) -> tuple[str, str, str]:
    a, b, z = (str(hub_root / ORG / n) for n in ("ft00", "ft01", "base"))
    return a, b, z


def test_tiny_local_model_is_computed_exactly_with_a_note(hub_root: Path) -> None:
    exact = compute_kinship(*_local(hub_root))
    got = compute_kinship(*_local(hub_root), sample=0.1)
    assert got.mode == "exact" and got.to_dict()["sampled"] is False
    assert got.note is not None and "under the 16,777,216" in got.note
    assert got.intervals == {} and got.sample_fraction == 0.1
    assert got.metrics == pytest.approx(exact.metrics, rel=1e-12)
    assert got.params_compared == exact.params_compared
    assert got.bytes_read <= exact.bytes_read


def test_tiny_hub_model_reads_no_more_than_exact(emu: HubEmulator) -> None:
    refs = (f"{ORG}/ft00", f"{ORG}/ft01", f"{ORG}/base")
    exact = compute_kinship(*refs, endpoint=emu.url)
    got = compute_kinship(*refs, sample=0.1, endpoint=emu.url)
    assert got.mode == "exact" and got.note and got.intervals == {}
    assert got.bytes_read <= exact.bytes_read
    assert got.metrics == pytest.approx(exact.metrics, rel=1e-12)
    assert got.revisions == exact.revisions


def test_blocks_covering_most_bytes_fall_back_while_a_real_sample_samples(
    hub_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampled, "SAMPLE_MIN_BYTES", 0)  # judge by coverage alone
    covering = compute_kinship(*_local(hub_root), sample=0.95)
    assert covering.mode == "exact" and covering.note and "would read" in covering.note
    thin = compute_kinship(*_local(hub_root), sample=0.02)
    assert thin.mode == "sampled" and thin.note is None and thin.intervals
    assert thin.to_dict()["sampled"] is True
    monkeypatch.setenv(sampled.ENV_FALLBACK, "0")
    forced = compute_kinship(*_local(hub_root), sample=0.95)
    assert forced.mode == "sampled"


def test_stored_fallback_answers_with_its_note(database: Database, hub_root: Path) -> None:
    a, b, z = _local(hub_root)
    first = measure_kinship(database, a=a, b=b, base=z, sample=0.1)
    again = measure_kinship(database, a=a, b=b, base=z, sample=0.1)
    assert (first.cached, again.cached) == (False, True)
    for m in (first, again):
        d = m.to_dict()
        assert d["mode"] == "exact" and d["sampled"] is False and d["note"]
        assert d["sample_fraction"] == 0.1


def test_kinship_command_says_it_computed_exactly(hub_root: Path, tmp_path: Path) -> None:
    a, b, z = _local(hub_root)
    args = ["--db", f"sqlite:///{tmp_path / 'k.db'}", "kinship", a, b, "--base", z]
    r = CliRunner().invoke(app, [*args, "--sample", "0.1", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["mode"] == "exact" and doc["sampled"] is False and "exactly" in doc["note"]
    table = CliRunner().invoke(app, [*args, "--sample", "0.1", "--no-cache"])
    assert table.exit_code == 0 and "note: computed exactly" in table.stdout
