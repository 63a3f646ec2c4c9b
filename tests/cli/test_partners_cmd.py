"""`kinhub partners` on a crawled family with evaluations, parsed JSON, both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.kinship.names import EMIT_METHODS
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl
from tests.kinship.partners_hub import generate_partner_hub

runner = CliRunner()
mergekit_config = pytest.importorskip("mergekit.config")


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_partner_hub(tmp_path_factory.mktemp("partners-cli-hub"))


@pytest.fixture
def url(
    database: Database,
    database_url: str,
    hub_root: Path,
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> Iterator[str]:
    """A crawled database; the emulator stays up as the Hub (``HF_ENDPOINT``)."""
    with hub_emulator(hub_root, set_endpoint=True) as emu:
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        yield database_url


def partners(url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["--db", url, "partners", *args])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 and "json" in args else result


def test_explore_json(url: str) -> None:
    doc = partners(url, "fam/ft-a", "--top", "3", "--format", "json")
    assert (doc["model"], doc["metric"], doc["strategy"]) == ("fam/ft-a", "pcc", "explore")
    ids = [c["id"] for c in doc["candidates"]]
    assert ids == ["fam/ft-c", "fam/ft-nc", "fam/ft-b"]  # the strongest, lowest pcc first
    for c in doc["candidates"]:
        assert set(c) >= {"id", "kinship", "shared_base", "score", "license", "warnings"}
        assert set(c["kinship"]) == {"value", "mode", "interval", "base"}
        assert c["kinship"]["mode"] == "sampled"
        assert c["kinship"]["interval"]["low"] <= c["kinship"]["value"]
        assert c["shared_base"] == "fam/base"
    assert doc["candidates"][0]["score"] == pytest.approx(1.0 - 0.0, abs=0.25)
    assert "fam/ft-wide" in {s["id"] for s in doc["skipped"]}


def test_compute_none_shows_pending_then_metric_ed(url: str) -> None:
    doc = partners(url, "fam/ft-a", "--compute", "none", "--format", "json")
    assert {c["kinship"]["mode"] for c in doc["candidates"]} == {"pending"}
    assert doc["queued"] == 7
    exact = partners(
        url, "fam/ft-a", "--compute", "exact", "--metric", "ed", "--top", "2", "--format", "json"
    )
    assert exact["metric"] == "ed"
    # ed is a distance: the most distant of the strong ones comes first.
    values = [c["kinship"]["value"] for c in exact["candidates"]]
    assert values == sorted(values, reverse=True)
    assert {c["kinship"]["mode"] for c in exact["candidates"]} == {"exact"}
    assert all(c["kinship"]["interval"] is None for c in exact["candidates"])


def test_balanced_table(url: str) -> None:
    result = partners(url, "fam/ft-a", "--strategy", "balanced", "--top", "8")
    out = result.stdout
    assert "balanced by pcc" in out
    assert "fam/ft-c" in out and "sampled" in out
    assert "license conflict" in out
    assert "vocabulary differs" in out
    assert "pending" in out  # the gated model


@pytest.mark.parametrize("method", EMIT_METHODS)
def test_emit_config_validates_with_mergekit(url: str, tmp_path: Path, method: str) -> None:
    out = tmp_path / f"{method}.yml"
    doc = partners(
        url,
        "fam/ft-a",
        "--compute",
        "none",
        "--emit-config",
        method,
        "-o",
        str(out),
        "--format",
        "json",
    )
    text = out.read_text()
    mergekit_config.MergeConfiguration.model_validate(yaml.safe_load(text))
    config = yaml.safe_load(text)
    best = doc["candidates"][0]["id"]
    assert doc["config"]["partner"] == best and doc["config"]["path"] == str(out)
    assert [m["model"] for m in config["models"]] == ["fam/ft-a", best]
    assert config["dtype"] == "bfloat16"
    if method in ("ties", "dare_ties", "task_arithmetic", "della", "model_stock"):
        assert config["base_model"] == "fam/base"


def test_emit_config_vocabulary_difference(url: str) -> None:
    result = partners(url, "fam/ft-vocab", "--compute", "none", "--emit-config", "linear")
    # Printed after the table; the best partner has the base vocabulary.
    assert "tokenizer_source: union" in result.stdout
    assert "merge_method: linear" in result.stdout


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("nobody/nothing", "is not in the database"),
        ("fam/noweights", "no readable safetensors weights"),
        ("other/base", "no other model shares an ancestor"),
        ("other/ft", "none of the 1 models sharing an ancestor with it is compatible"),
    ],
)
def test_bad_input(url: str, model: str, message: str) -> None:
    result = partners(url, model, "--compute", "none", "--format", "json", code=1)
    assert message in result.stderr
    assert result.stdout == ""


def test_empty_database_and_bad_options(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = partners(empty, "fam/ft-a", "--format", "json", code=1)
    assert "holds no models" in result.stderr
    bad = runner.invoke(app, ["--db", empty, "partners", "fam/ft-a", "--metric", "kl"])
    assert bad.exit_code == 2
    bad = runner.invoke(app, ["--db", empty, "partners", "fam/ft-a", "--emit-config", "moe"])
    assert bad.exit_code == 2
