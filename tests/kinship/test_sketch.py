"""Per-model sketches over real HTTP: read once by Range at the CDN location, stored on
SQLite and PostgreSQL, and kinship answered from three stored sketches with no Hub
request, within tolerance of the exact engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.db.models import Kinship, Model
from kinhub.db.sketch_store import find_model, load_sketch
from kinhub.kinship.engine import compute_kinship
from kinhub.kinship.sketch_plan import make_plan
from kinhub.sandbox.families import Family
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators

runner = CliRunner()
ROLES = ("base", "ft1", "ft2", "ft3")


@pytest.fixture(scope="module")
def sketch_hub(big_family: Family, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The big family (bf16, two shards each) as Hub repos ``kin/<role>``."""
    root = tmp_path_factory.mktemp("sketch-hub")
    for role in ROLES:
        shutil.copytree(big_family[role], root / "kin" / role)
    return root


@pytest.fixture(scope="module")
def exact(big_family: Family) -> dict[tuple[str, str], dict[str, float]]:
    fam = big_family
    pairs = (("ft1", "ft2"), ("ft1", "ft3"), ("ft2", "ft3"))
    return {
        p: compute_kinship(str(fam[p[0]]), str(fam[p[1]]), str(fam["base"])).metrics for p in pairs
    }


def _invoke(db_url: str, *args: str) -> object:
    result = runner.invoke(app, ["--db", db_url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_is_shared_by_names_and_shapes_and_fixed_in_size() -> None:
    shapes = {"a.weight": (4096, 4096), "b.weight": (11008, 4096), "norm": (4096,)}
    one, two = make_plan(shapes), make_plan(dict(reversed(shapes.items())))
    assert one == two  # the order tensors are listed in does not matter
    assert one.key != make_plan({**shapes, "norm": (4097,)}).key
    big = make_plan({k: (v[0] * 8, *v[1:]) for k, v in shapes.items()})
    block = one.block
    assert abs(big.num_values - one.num_values) <= block * len(shapes)
    assert 65_536 - block * 3 <= one.num_values <= 65_536 + block * 3
    for t in one.tensors:  # blocks are distinct, sorted, inside the tensor
        assert list(t.starts) == sorted(set(t.starts)) and t.starts[-1] < t.numel


def test_sketch_stored_then_kinship_from_sketches_makes_no_hub_request(
    sketch_hub: Path, database_url: str, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(sketch_hub, set_endpoint=True) as emu:
        docs = _invoke(database_url, "sketch", "kin/base", "kin/ft1", "kin/ft2", "--format", "json")
        assert isinstance(docs, list) and [d["model"] for d in docs] == [
            "kin/base",
            "kin/ft1",
            "kin/ft2",
        ]
        weights = {
            r: sum(f.stat().st_size for f in (sketch_hub / "kin" / r).glob("*.safetensors"))
            for r in ROLES
        }
        for d in docs:
            assert d["status"] == "sketched" and len(d["sha"]) == 40
            assert d["requests"] <= 2 + 2  # two weight files, resolved once each
            assert 0 < d["bytes_read"] < 0.1 * weights[d["model"].split("/")[1]]
        served = emu.stats()
        assert served["requests"]["resolve"] == 3 * 2
        emu.reset_stats()
        again = _invoke(database_url, "sketch", "kin/ft1", "--format", "json")
        assert again[0]["status"] == "stored" and again[0]["bytes_read"] == 0
        emu.reset_stats()
        doc = _invoke(
            database_url,
            "kinship", "kin/ft1", "kin/ft2", "--base", "kin/base", "--sketch", "--format", "json",
        )  # fmt: skip
        after = emu.stats()
    assert sum(after["requests"].values()) == 0, after  # answered from the database alone
    assert doc["mode"] == "sketch" and doc["a"] == "kin/ft1" and doc["b"] == "kin/ft2"
    for metric in ("cs", "pcc", "ed"):
        interval = doc["intervals"][metric]
        assert interval["low"] <= doc["metrics"][metric] <= interval["high"]
        assert interval["level"] == 0.95
    assert abs(doc["metrics"]["cs"] - 0.5) < 0.02
    db = open_database(database_url)
    try:
        with db.session() as session:
            model = find_model(session, "kin/ft1")
            assert model is not None and model.id is not None
            stored = load_sketch(session, model.id, docs[1]["sha"])
            assert stored is not None and len(stored.data) == 4 * docs[1]["values"]
            rows = session.exec(select(Kinship)).all()
            assert [(r.mode, r.revision_a) for r in rows] == [("sketch", docs[1]["sha"])]
    finally:
        db.dispose()


def test_sketch_all_takes_models_without_a_current_sketch(
    sketch_hub: Path, database_url: str, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(sketch_hub, set_endpoint=True):
        first = _invoke(database_url, "sketch", "kin/base", "--format", "json")
        db = open_database(database_url)
        try:
            with db.write_transaction() as session:
                base = find_model(session, "kin/base")
                assert base is not None
                base.sha, base.status, base.num_parameters = first[0]["sha"], "ok", 10**6
                session.add(Model(repo_id="kin/ft3", sha="0" * 40, status="ok", num_parameters=1))
                session.add(Model(repo_id="kin/none", status="ok"))  # no weights known
        finally:
            db.dispose()
        docs = _invoke(database_url, "sketch", "--all", "--format", "json")
    assert [(d["model"], d["status"]) for d in docs] == [("kin/ft3", "sketched")]


def test_sketch_vs_exact_within_tolerance(
    sketch_hub: Path,
    database_url: str,
    hub_emulator: HubEmulators,
    exact: dict[tuple[str, str], dict[str, float]],
) -> None:
    with hub_emulator(sketch_hub, set_endpoint=True):
        _invoke(database_url, "sketch", *(f"kin/{r}" for r in ROLES), "--format", "json")
        for (x, y), want in exact.items():
            doc = _invoke(
                database_url,
                "kinship", f"kin/{x}", f"kin/{y}", "--base", "kin/base", "--sketch",
                "--format", "json",
            )  # fmt: skip
            for metric in ("cs", "pcc"):
                got = doc["metrics"][metric]
                assert abs(got - want[metric]) <= 0.02, (x, y, metric, got, want[metric])
                interval = doc["intervals"][metric]
                assert interval["low"] <= want[metric] <= interval["high"], (x, y, metric)


def test_sketches_of_other_shapes_do_not_compare(
    tmp_path: Path, database_url: str, hub_emulator: HubEmulators, big_family: Family
) -> None:
    from kinhub.sandbox.families import make_family
    from kinhub.sandbox.tensors import Arch

    other = make_family(
        tmp_path / "o", arch=Arch(vocab=512, hidden=64, layers=2, intermediate=128), merges=False
    )
    root = tmp_path / "hub"
    shutil.copytree(big_family["base"], root / "kin" / "base")
    shutil.copytree(big_family["ft1"], root / "kin" / "ft1")
    shutil.copytree(other["ft1"], root / "odd" / "ft1")
    with hub_emulator(root, set_endpoint=True):
        result = runner.invoke(
            app,
            [
                "--db",
                database_url,
                "kinship",
                "kin/ft1",
                "odd/ft1",
                "--base",
                "kin/base",
                "--sketch",
            ],
        )
    assert result.exit_code == 1 and "different plans" in result.output


def test_a_repo_with_too_many_tensors_is_refused_after_its_headers(
    sketch_hub: Path, hub_emulator: HubEmulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kinhub.hub.client import HubClient
    from kinhub.kinship import sketch
    from kinhub.kinship.errors import ModelSourceError

    monkeypatch.setattr(sketch, "MAX_SKETCH_TENSORS", 3)
    with hub_emulator(sketch_hub) as emu:
        with pytest.raises(ModelSourceError, match="more than a sketch reads"):
            sketch.read_sketch("kin/ft1", hub=HubClient(endpoint=emu.url))
        served = emu.stats()
    assert served["requests"]["cdn"] <= 4  # the two files' headers, no block


def test_sketch_excludes_sample_and_per_tensor() -> None:
    for extra in (["--sample", "0.1"], ["--per-tensor"]):
        args = ["kinship", "a/b", "c/d", "--base", "e/f", "--sketch", *extra]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "--sketch takes neither" in result.output
