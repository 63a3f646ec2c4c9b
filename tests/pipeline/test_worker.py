"""The kinship worker on both backends: it computes every job once, stores what
``kinhub kinship`` computes by hand, picks exact or sampled by size, fails bad inputs
at once with their reason, and gives a job back cleanly when stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database, open_database
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship
from kinhub.pipeline.worker import Worker, WorkerEvent, WorkerSettings, drain
from kinhub.sandbox.emulator import HubEmulator
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, write_bad_repos, write_family


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worker_hub")
    write_family(root, n=4)
    write_bad_repos(root)
    return root


@pytest.fixture
def emu(hub_root: Path, hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with hub_emulator(hub_root) as server:
        yield server


MODELS = ["kin/ft00", "kin/ft01", "kin/ft02", "kin/ft03"]


def _rows(database: Database) -> list[Kinship]:
    with database.session() as session:
        return list(session.exec(select(Kinship)))


def test_until_empty_computes_every_job_as_kinship_by_hand(
    database: Database, emu: HubEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = pair_targets(MODELS)  # 6 pair + 6 edge jobs
    queue(database, targets)
    events: list[WorkerEvent] = []
    settings = WorkerSettings(endpoint=emu.url, worker_id="w1")
    report = Worker(database, settings, on_event=events.append).run(until_empty=True)

    assert report.status == "empty"
    assert (report.claimed, report.done, report.failed) == (12, 12, 0)
    assert report.modes == {"exact": 12}
    with database.session() as session:
        jobs = list_jobs(session)
    assert {j.status for j in jobs} == {"done"}
    assert all(j.attempts == 1 and j.mode == "exact" and j.lease_owner is None for j in jobs)
    rows = {r.id: r for r in _rows(database)}
    # A pair job and the edge job of the same two models are one measurement.
    assert len(rows) == 6
    assert {j.kinship_id for j in jobs} == set(rows)
    assert any(e.kind == "progress" for e in events)

    # The same triples by hand, with `kinhub kinship`, into another database.
    monkeypatch.setenv("HF_ENDPOINT", emu.url)
    by_hand = f"sqlite:///{tmp_path / 'by_hand.db'}"
    runner = CliRunner()
    for job in jobs:
        row = rows[job.kinship_id]
        args = ["--db", by_hand, "kinship", job.model_a, job.model_b, "--base", job.base]
        result = runner.invoke(app, [*args, "--format", "json"])
        assert result.exit_code == 0, result.output
        got = json.loads(result.stdout)
        assert got["metrics"] == pytest.approx({"cs": row.cs, "pcc": row.pcc, "ed": row.ed})
        assert got["revisions"] == {
            "a": row.revision_a,
            "b": row.revision_b,
            "base": row.revision_base,
        }


@pytest.mark.parametrize(("limit", "mode"), [(10**12, "exact"), (1, "sampled")])
def test_auto_mode_picks_exact_or_sampled_by_size_and_records_it(
    emu: HubEmulator, tmp_path: Path, limit: int, mode: str
) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        queue(database, pair_targets(MODELS[:3], limit=2))
        settings = WorkerSettings(endpoint=emu.url, exact_max_bytes=limit, sample=0.5)
        report = Worker(database, settings).run(until_empty=True)
        assert report.modes == {mode: 2}
        with database.session() as session:
            assert {j.mode for j in list_jobs(session)} == {mode}
        assert {r.mode for r in _rows(database)} == {mode}
        if mode == "sampled":  # read by Range: nothing was downloaded into the cache
            assert not list(Path(tmp_path).rglob("*.safetensors"))
    finally:
        database.dispose()


def test_bad_inputs_fail_at_once_with_their_reason_while_the_rest_complete(
    database: Database, emu: HubEmulator
) -> None:
    from kinhub.db.jobs.keys import JobTarget

    bad = {
        "corrupt": "kin/corrupt",
        "gated": "kin/gated",
        "missing": "kin/does-not-exist",
        "pickle": "kin/pickled",
        "architecture": "kin/mistral",
    }
    targets = [
        JobTarget(kind="pair", model_a="kin/ft00", model_b=r, base="kin/base") for r in bad.values()
    ]
    targets += pair_targets(MODELS[:3], limit=3)
    queue(database, targets)
    report = Worker(database, WorkerSettings(endpoint=emu.url, retry_s=0)).run(until_empty=True)

    assert (report.done, report.failed, report.retried) == (3, 5, 0)
    with database.session() as session:
        jobs = {(j.model_a, j.model_b): j for j in list_jobs(session)}
    reasons = {}
    for what, repo in bad.items():
        job = jobs[tuple(sorted(("kin/ft00", repo)))]  # type: ignore[index]
        assert job.status == "failed" and job.attempts == 1, (what, job.last_error)
        assert job.finished_at is not None and job.lease_owner is None
        reasons[what] = job.last_error or ""
    assert "kin/corrupt" in reasons["corrupt"] and "model.safetensors" in reasons["corrupt"]
    assert "gated" in reasons["gated"] and "kin/gated" in reasons["gated"]
    assert "not_found" in reasons["missing"] and "kin/does-not-exist" in reasons["missing"]
    assert "pickle" in reasons["pickle"] and "pytorch_model.bin" in reasons["pickle"]
    assert "architectures do not match" in reasons["architecture"]
    assert "mistral" in reasons["architecture"]
    assert all("\n" not in r for r in reasons.values())
    assert sum(j.status == "done" for j in jobs.values()) == 3


def test_stop_gives_the_running_job_back_and_another_worker_completes_it(
    emu: HubEmulator, tmp_path: Path
) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        queue(database, pair_targets(MODELS[:2], limit=1))
        first = Worker(database, WorkerSettings(endpoint=emu.url, worker_id="first"))

        def stop_at_first_tensor(event: WorkerEvent) -> None:
            if event.kind == "mode":
                first.stop()  # as SIGTERM does, while the job is being computed

        first.on_event = stop_at_first_tensor
        report = first.run(until_empty=True)
        assert (report.claimed, report.released, report.done, report.status) == (1, 1, 0, "stopped")
        with database.session() as session:
            (job,) = list_jobs(session)
        assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, None)
        assert _rows(database) == []

        result = drain(database, budget_s=3600, settings=WorkerSettings(endpoint=emu.url))
        assert (result["done"], result["status"]) == (1, "empty")
        with database.session() as session:
            (job,) = list_jobs(session)
        assert (job.status, job.attempts) == ("done", 1)
    finally:
        database.dispose()


def test_once_and_max_jobs_bound_the_run(emu: HubEmulator, tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        queue(database, pair_targets(MODELS, limit=5))
        settings = WorkerSettings(endpoint=emu.url, mode="sampled", sample=0.5)
        assert Worker(database, settings).run(once=True).to_dict()["claimed"] == 1
        assert Worker(database, settings).run(max_jobs=2).status == "max-jobs"
        rest = Worker(database, settings).run(until_empty=True)
        assert (rest.claimed, rest.status) == (2, "empty")
        assert Worker(database, settings).run(once=True).status == "empty"
    finally:
        database.dispose()


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_jobs_pinned_to_revisions_are_measured_at_those_revisions(
    emu: HubEmulator, tmp_path: Path, mode: str
) -> None:
    from kinhub.db.jobs.keys import JobTarget
    from kinhub.hub.shared import shared_client

    sha = {
        r: shared_client(emu.url).model_info(r).sha for r in ("kin/ft00", "kin/ft01", "kin/base")
    }
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        target = JobTarget(
            kind="pair", model_a="kin/ft00", model_b="kin/ft01", base="kin/base",
            revision_a=sha["kin/ft00"], revision_b=sha["kin/ft01"], revision_base=sha["kin/base"],
        )  # fmt: skip
        queue(database, [target])
        settings = WorkerSettings(endpoint=emu.url, mode=mode, sample=0.5)
        assert Worker(database, settings).run(until_empty=True).done == 1
        (row,) = _rows(database)
        assert row.model_a == "kin/ft00"  # the plain repo id; the commit read is beside it
        assert (row.revision_a, row.revision_b, row.revision_base) == (
            sha["kin/ft00"], sha["kin/ft01"], sha["kin/base"],
        )  # fmt: skip
    finally:
        database.dispose()
