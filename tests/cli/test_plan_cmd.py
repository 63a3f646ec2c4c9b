"""`kinhub plan` on a crawled family with evaluations, parsed JSON, both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kinhub.cli.app import app
from kinhub.db.engine import Database
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl
from tests.kinship.partners_hub import generate_partner_hub

runner = CliRunner()
mergekit_config = pytest.importorskip("mergekit.config")


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_partner_hub(tmp_path_factory.mktemp("plan-cli-hub"))


@pytest.fixture
def url(
    database: Database,
    database_url: str,
    hub_root: Path,
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> Iterator[str]:
    with hub_emulator(hub_root, set_endpoint=True) as emu:
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        yield database_url


def plan(url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["--db", url, "plan", *args, "--format", "json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result


def validate(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    mergekit_config.MergeConfiguration.model_validate(doc)
    return dict(doc)


def test_next_generation_pairs_and_exploration(url: str, tmp_path: Path) -> None:
    out = tmp_path / "configs"
    pool = ["fam/ft-a", "fam/ft-b", "fam/ft-c", "fam/ft-d", "fam/ft-nc", "other/ft", "fam/base"]
    doc = plan(url, *pool, "--k", "3", "--out", str(out))
    assert doc["k"] == 3 and doc["metric"] == "pcc"
    (gen,) = doc["generations"]
    assert [t["id"] for t in gen["top_k"]] == ["fam/ft-b", "fam/ft-c", "fam/ft-nc"]
    pairs = [(m["kind"], sorted(m["models"])) for m in gen["merges"]]
    assert pairs == [
        ("top-k", ["fam/ft-b", "fam/ft-c"]),
        ("top-k", ["fam/ft-b", "fam/ft-nc"]),
        ("top-k", ["fam/ft-c", "fam/ft-nc"]),
        # the best model with its lowest-kinship partner outside the top k
        ("explore", ["fam/ft-b", "fam/ft-d"]),
    ]
    explore = gen["merges"][-1]
    assert explore["kinship"]["mode"] == "sampled" and explore["shared_base"] == "fam/base"
    top_values = [m["kinship"]["value"] for m in gen["merges"][:3]]
    assert gen["top_kinship"] == pytest.approx(sum(top_values) / 3)
    # ft-b + ft-c was made already (m/low): no config for it.
    made = gen["merges"][0]
    assert made["made_as"] == ["m/low"] and made["config"] is None
    assert doc["stop_reason"] == "planned 1 generation(s)"
    skipped = {s["id"]: s["reason"] for s in doc["skipped"]}
    assert skipped["fam/base"] == "no card evaluations"
    assert "architecture" in skipped["other/ft"]
    files = sorted(out.iterdir())
    assert len(files) == 3
    assert {m["config"] for m in gen["merges"][1:]} == {str(f) for f in files}
    for merge in gen["merges"][1:]:
        config = validate(Path(merge["config"]))
        assert config["merge_method"] == "slerp"
        assert [m["model"] for m in config["models"]] == merge["models"]


@pytest.mark.parametrize("method", ["ties", "dare_ties", "della", "model_stock", "linear"])
def test_plan_configs_for_other_methods(url: str, tmp_path: Path, method: str) -> None:
    out = tmp_path / method
    doc = plan(
        url, "fam/ft-a", "fam/ft-c", "fam/ft-d", "--k", "2", "--out", str(out), "--method", method
    )
    assert "generation 1 is not made yet" in doc["stop_reason"]
    merges = doc["generations"][0]["merges"]
    assert len(merges) == 2  # the pair, and ft-c with ft-d
    for merge in merges:
        config = validate(Path(merge["config"]))
        if method != "linear":
            assert config["base_model"] == "fam/base"


def test_a_made_generation_joins_the_pool(url: str, tmp_path: Path) -> None:
    out = tmp_path / "configs"
    doc = plan(
        url,
        "fam/ft-a",
        "fam/ft-b",
        "--k",
        "2",
        "--generations",
        "3",
        "--threshold",
        "0.99",
        "--out",
        str(out),
    )
    first, second = doc["generations"]
    assert first["merges"][0]["models"] == ["fam/ft-b", "fam/ft-a"]
    assert first["merges"][0]["made_as"] == ["m/ties"]  # crawled, with evaluations
    assert first["merges"][0]["config"] is None  # nothing to write for a made merge
    assert [t["id"] for t in second["top_k"]] == ["m/ties", "fam/ft-b"]
    assert [sorted(m["models"]) for m in second["merges"]] == [
        ["fam/ft-b", "m/ties"],
        ["fam/ft-a", "m/ties"],
    ]
    assert "generation 2 is not made yet" in doc["stop_reason"]
    assert len(list(out.iterdir())) == 2


def test_stops_when_the_top_k_is_unchanged(url: str) -> None:
    # ft-b + ft-c was made (m/low) but scored 30: the top two stay the same.
    doc = plan(url, "fam/ft-b", "fam/ft-c", "--k", "2", "--generations", "3", "--threshold", "0.99")
    assert len(doc["generations"]) == 1
    assert doc["generations"][0]["merges"][0]["made_as"] == ["m/low"]
    assert doc["stop_reason"] == "the top-2 set did not change in generation 2"


def test_stops_when_the_top_models_are_alike(url: str) -> None:
    doc = plan(url, "fam/ft-a", "fam/ft-b", "fam/ft-d", "--k", "2", "--threshold", "0.5")
    (gen,) = doc["generations"]
    assert gen["top_kinship"] > 0.5
    assert gen["merges"] == []
    assert "passed the threshold 0.5" in doc["stop_reason"]


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        (["fam/ft-a", "nobody/nothing"], "'nobody/nothing' is not in the database"),
        (["fam/ft-a", "fam/base"], "at least two models with card evaluations"),
        (["fam/ft-a", "fam/noweights"], "1 of 2 have both"),
    ],
)
def test_bad_input(url: str, pool: list[str], message: str) -> None:
    result = plan(url, *pool, code=1)
    assert message in result.stderr
    assert result.stdout == ""


def test_empty_database(tmp_path: Path) -> None:
    result = plan(f"sqlite:///{tmp_path / 'empty.db'}", "fam/ft-a", "fam/ft-b", code=1)
    assert "holds no models" in result.stderr
    bad = runner.invoke(app, ["--db", "sqlite://", "plan", "fam/ft-a", "--k", "1"])
    assert bad.exit_code == 2
