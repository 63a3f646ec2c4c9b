"""End to end: crawl a three-generation merge family, run ``kinhub worker --until-empty``,
and every job the crawl queued is computed with the values ``kinhub kinship`` gives by
hand on the same triples, and ``kinhub lineage`` carries them on the merge edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship
from kinhub.sandbox.families import MergeFamily
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

runner = CliRunner()


@pytest.fixture(scope="module")
def family(merge_family: MergeFamily) -> MergeFamily:
    return merge_family  # shared by the session (tests/conftest.py): read only


def _run(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_crawl_then_worker_computes_every_queued_job(
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
            queued = list_jobs(session, status="pending")
            # Jobs the planner could not plan (no common ancestor…) are failed with a reason.
            planned_failed = {j.id for j in list_jobs(session, status="failed")}
        assert queued

        monkeypatch.setenv("HF_ENDPOINT", emu.url)
        report = _run("--db", database_url, "worker", "--until-empty", "--plan", "pro")
        assert report["claimed"] == len(queued)
        assert report["failed"] == 0 and report["done"] == len(queued), report["errors"]

        with database.session() as session:
            jobs = [j for j in list_jobs(session) if j.id not in planned_failed]
            rows = {r.id: r for r in session.exec(select(Kinship))}
        assert {j.status for j in jobs} == {"done"}
        assert all(j.attempts == 1 and j.kinship_id in rows for j in jobs)

        # By hand, into another database, on the same triples (revisions included).
        by_hand = f"sqlite:///{tmp_path / 'by_hand.db'}"
        for job in jobs:
            refs = [
                f"{m}@{r}" if r else m
                for m, r in (
                    (job.model_a, job.revision_a),
                    (job.model_b, job.revision_b),
                    (job.base, job.revision_base),
                )
            ]
            got = _run("--db", by_hand, "kinship", refs[0], refs[1], "--base", refs[2])
            row = rows[job.kinship_id]  # type: ignore[index]
            want = {"cs": row.cs, "pcc": row.pcc, "ed": row.ed}
            assert got["metrics"] == pytest.approx(want, nan_ok=True), job.job_key

    # lineage carries the edge jobs' results on the merge edges.
    edge_jobs = [j for j in jobs if j.kind == "edge" and j.child]
    assert edge_jobs
    job = edge_jobs[0]
    doc = _run("--db", database_url, "lineage", job.child or "")
    parent = job.model_b if job.model_a == job.child else job.model_a
    (edge,) = [e for e in doc["edges"] if (e["child"], e["parent"]) == (job.child, parent)]
    row = rows[job.kinship_id]  # type: ignore[index]
    assert edge["kinship"]["base"] == job.base and edge["kinship"]["mode"] == "exact"
    assert edge["kinship"]["cs"] == pytest.approx(row.cs)
