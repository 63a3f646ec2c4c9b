"""``kinhub kinship``: JSON output, dry run, database cache on both backends, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.db.models import Kinship
from kinhub.kinship.weights import open_folder
from kinhub.sandbox.families import Family
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators

runner = CliRunner()


def _args(fam: Family, x: str = "ft1", y: str = "ft3") -> list[str]:
    return ["kinship", str(fam[x]), str(fam[y]), "--base", str(fam["base"])]


def test_json_output(families: dict[str, Family]) -> None:
    fam = families["fp32-resized-sharded"]
    r = runner.invoke(app, [*_args(fam, "ft1", "ft2"), "--format", "json", "--per-tensor"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc["metrics"]) == {"cs", "pcc", "ed"}
    assert doc["mode"] == "exact" and doc["convention"] == "native" and doc["cached"] is False
    assert doc["params_compared"] > 0 and doc["bytes_read"] >= doc["params_compared"] * 12
    assert doc["dropped"]["rows"]["lm_head.weight"] == {"b": 24}
    assert "model.norm.weight" in doc["breakdown"]


def test_table_output_names_values(families: dict[str, Family]) -> None:
    r = runner.invoke(app, [*_args(families["bf16-tied"]), "--metrics", "cs,layer_cs"])
    assert r.exit_code == 0, r.output
    assert "cs" in r.stdout and "params compared" in r.stdout and "tied" in r.stdout


def test_dry_run_reads_no_tensor_data(families: dict[str, Family]) -> None:
    fam = families["bf16-sharded"]
    r = runner.invoke(app, [*_args(fam), "--dry-run", "--format", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["tensors"] == len(fam.arch.shapes())
    assert plan["params"] == fam.arch.num_params()


def test_stored_and_answered_from_database(families: dict[str, Family], database_url: str) -> None:
    fam = families["bf16-sharded"]
    first = runner.invoke(app, ["--db", database_url, *_args(fam), "--format", "json"])
    assert first.exit_code == 0, first.output
    a = json.loads(first.stdout)
    again = runner.invoke(app, ["--db", database_url, *_args(fam), "--format", "json"])
    b = json.loads(again.stdout)
    assert a["cached"] is False and b["cached"] is True
    assert b["metrics"] == pytest.approx(a["metrics"], rel=1e-15)
    assert b["bytes_read"] == 0 and b["params_compared"] == a["params_compared"]
    sampled = runner.invoke(
        app, ["--db", database_url, *_args(fam), "--format", "json", "--sample", "0.5"]
    )
    s = json.loads(sampled.stdout)
    assert s["cached"] is False and s["mode"] == "sampled" and "cs" in s["intervals"]


def test_errors_exit_nonzero(families: dict[str, Family]) -> None:
    fam = families["fp32-single"]
    r = runner.invoke(app, [*_args(fam), "--device", "cuda"])
    assert r.exit_code == 1 and "CUDA" in r.output
    r = runner.invoke(app, [*_args(fam), "--metrics", "cs,nope"])
    assert r.exit_code == 1 and "nope" in r.output and "layer_cs" in r.output
    r = runner.invoke(app, ["kinship", "not a repo", str(fam["ft1"]), "--base", str(fam["base"])])
    assert r.exit_code == 1
    auto = runner.invoke(app, [*_args(fam), "--device", "auto", "--format", "json"])
    assert auto.exit_code == 0


def test_help() -> None:
    r = runner.invoke(app, ["kinship", "--help"])
    assert r.exit_code == 0 and "--sample" in r.stdout


def test_recompute_upserts_one_row(families: dict[str, Family], database_url: str) -> None:
    fam = families["fp32-single"]
    for extra in ([], ["--no-cache"], ["--no-cache"]):
        r = runner.invoke(app, ["--db", database_url, *_args(fam), "--format", "json", *extra])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["cached"] is False
    db = open_database(database_url)
    try:
        with db.session() as session:
            rows = session.exec(select(Kinship)).all()
    finally:
        db.dispose()
    assert len(rows) == 1
    row = rows[0]
    assert row.mode == "exact" and row.convention == "native"
    assert None not in (row.cs, row.pcc, row.ed) and row.params_compared > 0
    assert row.model_a == str(fam["ft1"].resolve())


def test_allow_pickle_flag(families: dict[str, Family], tmp_path: Path) -> None:
    fam = families["bf16-tied"]
    refs = []
    for role in ("ft1", "ft2", "base"):
        mw = open_folder(fam[role])
        state = {k: mw.read(i, 0, i.numel).reshape(i.shape).clone() for k, i in mw.tensors.items()}
        (tmp_path / role).mkdir()
        shutil.copy(fam[role] / "config.json", tmp_path / role / "config.json")
        torch.save(state, tmp_path / role / "pytorch_model.bin")
        refs.append(str(tmp_path / role))
    args = ["kinship", refs[0], refs[1], "--base", refs[2], "--format", "json"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "--allow-pickle" in refused.output
    ok = runner.invoke(app, [*args, "--allow-pickle"])
    assert ok.exit_code == 0, ok.output
    want = runner.invoke(app, [*_args(fam, "ft1", "ft2"), "--format", "json"])
    got_m, want_m = json.loads(ok.stdout)["metrics"], json.loads(want.stdout)["metrics"]
    assert got_m == pytest.approx(want_m, rel=1e-9)


def test_hub_cache_follows_the_repo_commit(
    families: dict[str, Family],
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    fam = families["bf16-sharded"]
    root = tmp_path / "hub"
    for role in ("base", "ft1", "ft3"):
        shutil.copytree(fam[role], root / "kin" / role)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    args = ["--db", url, "kinship", "kin/ft1", "kin/ft3", "--base", "kin/base", "--format", "json"]
    with hub_emulator(root, set_endpoint=True) as emu:
        first = json.loads(runner.invoke(app, args).stdout)
        again = json.loads(runner.invoke(app, args).stdout)
        assert (first["cached"], again["cached"]) == (False, True)
        assert len(first["revisions"]["a"]) == 40
        # ft3's weights change: a new commit, so the stored result no longer applies.
        for f in (root / "kin" / "ft3").glob("*.safetensors"):
            f.unlink()
        for f in fam["ft2"].iterdir():
            shutil.copy(f, root / "kin" / "ft3" / f.name)
        emu.reload()
        moved = json.loads(runner.invoke(app, args).stdout)
    assert moved["cached"] is False
    assert moved["revisions"]["b"] != first["revisions"]["b"]
    assert moved["metrics"]["cs"] != pytest.approx(first["metrics"]["cs"], abs=1e-3)


def test_cached_answer_reports_the_original_computation(
    families: dict[str, Family], database_url: str
) -> None:
    fam = families["fp32-single"]
    args = ["--db", database_url, *_args(fam), "--format", "json"]
    first = json.loads(runner.invoke(app, args).stdout)
    again = json.loads(runner.invoke(app, args).stdout)
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["computed_at"] == first["computed_at"]
    assert again["seconds"] == first["seconds"] and again["bytes_read"] == 0
    table = runner.invoke(app, ["--db", database_url, *_args(fam)])
    assert table.exit_code == 0, table.output
    when = first["computed_at"][:19].replace("T", " ")
    assert f"computed {when}" in table.stdout and "answered from the database" in table.stdout


def test_a_second_metric_adds_to_the_stored_one(
    families: dict[str, Family], database_url: str
) -> None:
    fam = families["fp32-single"]
    base = ["--db", database_url, *_args(fam), "--format", "json", "--metrics"]
    cs = json.loads(runner.invoke(app, [*base, "cs"]).stdout)
    pcc = json.loads(runner.invoke(app, [*base, "pcc"]).stdout)
    both = json.loads(runner.invoke(app, [*base, "cs,pcc"]).stdout)
    assert (cs["cached"], pcc["cached"], both["cached"]) == (False, False, True)
    assert both["metrics"] == {"cs": cs["metrics"]["cs"], "pcc": pcc["metrics"]["pcc"]}


def test_missing_local_folder_is_named_as_such(tmp_path: Path) -> None:
    r = runner.invoke(app, ["kinship", "./typo", "org/b", "--base", "org/z"])
    assert r.exit_code == 1
    assert "./typo" in r.output and "folder does not exist" in r.output
    assert "org/name" not in r.output


@pytest.mark.parametrize("fraction", ["0", "1.5", "-0.1"])
def test_sample_outside_zero_one_is_one_clean_line(
    families: dict[str, Family], fraction: str
) -> None:
    r = runner.invoke(app, [*_args(families["fp32-single"]), "--sample", fraction])
    assert r.exit_code != 0 and isinstance(r.exception, SystemExit)  # no traceback
    assert "(0, 1]" in r.output and len(r.output.strip().splitlines()) == 1
