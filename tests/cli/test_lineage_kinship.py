"""`kinhub lineage` carries the stored kinship of merge edges, from both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kinhub.cli import common
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.jobs.keys import JobTarget, find_job
from kinhub.db.models import Model
from kinhub.kinship.service import measure_kinship
from kinhub.sandbox.families import MergeFamily
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

runner = CliRunner()


@pytest.fixture(scope="module")
def family(merge_family: MergeFamily) -> MergeFamily:
    return merge_family  # shared by the session (tests/conftest.py): read only


def _lineage(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", url, "lineage", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _edge(doc: dict[str, Any], child: str, parent: str, role: str) -> dict[str, Any]:
    found = [
        e for e in doc["edges"] if (e["child"], e["parent"], e["role"]) == (child, parent, role)
    ]
    assert len(found) == 1, (child, parent, role)
    return found[0]


def test_lineage_shows_edge_kinship(
    database: Database,
    database_url: str,
    family: MergeFamily,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hub_emulator: HubEmulators,
) -> None:
    with hub_emulator(family.root) as emu:
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        with database.session() as session:
            sha = {m.repo_id: m.sha for m in session.exec(select(Model))}
        # What the worker does for the edge job m1/ties → fam/ft-a: measure, mark done.
        job_ref = JobTarget.canonical(
            kind="edge",
            model_a="m1/ties",
            model_b="fam/ft-a",
            base="fam/base",
            revision_a=sha["m1/ties"],
            revision_b=sha["fam/ft-a"],
            revision_base=sha["fam/base"],
        )

        def done(session: Any, row: Any) -> None:
            job = find_job(session, key=job_ref.key)
            assert job is not None
            job.status, job.kinship_id = "done", row.id
            session.add(job)

        measured = measure_kinship(
            database,
            a=f"m1/ties@{sha['m1/ties']}",
            b=f"fam/ft-a@{sha['fam/ft-a']}",
            base=f"fam/base@{sha['fam/base']}",
            endpoint=emu.url,
            cache_dir=str(tmp_path / "weights"),
            on_row=done,
        )
        # Measured by hand against another base, later: the job's result still wins.
        measure_kinship(
            database,
            a="fam/ft-a",
            b="m1/ties",
            base="fam/ft-b",
            endpoint=emu.url,
            cache_dir=str(tmp_path / "weights"),
        )
        # Only a hand measurement: shown.
        by_hand = measure_kinship(
            database,
            a="fam/ft-b",
            b="m1/ties",
            base="fam/base",
            endpoint=emu.url,
            cache_dir=str(tmp_path / "weights"),
        )
    want = {**{k: measured.result.metrics[k] for k in ("cs", "pcc", "ed")}}
    assert all(isinstance(v, float) for v in want.values())
    docs = [
        json.loads(_lineage(database_url, "m1/ties", "--format", "json", "--engine", engine))
        for engine in ("sql", "networkx")
    ]
    assert docs[0] == docs[1]
    doc = docs[0]
    ft_a = _edge(doc, "m1/ties", "fam/ft-a", "ingredient")
    assert ft_a["kinship"] == {**want, "base": "fam/base", "mode": "exact"}
    ft_b = _edge(doc, "m1/ties", "fam/ft-b", "ingredient")["kinship"]
    assert ft_b["base"] == "fam/base"
    assert ft_b["cs"] == pytest.approx(by_hand.result.metrics["cs"])
    assert _edge(doc, "m1/ties", "fam/ft-c", "ingredient")["kinship"] is None
    # Against its own base a model's task vector is zero: not shown on the base edge.
    assert _edge(doc, "m1/ties", "fam/base", "base")["kinship"] is None
    # Non-merge edges never carry one.
    assert all(e["kinship"] is None for e in doc["edges"] if e["relation"] == "finetune")

    monkeypatch.setattr(common.stdout, "width", 250)  # one tree line per edge
    tree = _lineage(database_url, "m1/ties")
    line = next(line for line in tree.splitlines() if "fam/ft-a" in line and "ingredient" in line)
    assert f"cs {want['cs']:.3g}" in line and "vs fam/base (exact)" in line
