"""Worker processes sharing one database: on PostgreSQL four workers compute 200 jobs
exactly once with one worker's values; a SIGKILLed worker's job is taken over when its
lease expires; on SQLite two workers never take the same job; SIGTERM releases."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.db.engine import Database, open_database
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship, KinshipJob
from kinhub.db.timeutil import to_utc, utcnow
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.emulator import HubEmulator
from sqlmodel import select

from tests.conftest import HubEmulators, _fresh_postgres
from tests.kinship.worker_hub import pair_targets, queue, worker_process, write_family


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("procs_hub")
    write_family(root, n=21)  # 210 pairs of tiny models
    return root


@pytest.fixture
def emu(hub_root: Path, hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with hub_emulator(hub_root) as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    yield from _fresh_postgres(postgres_server)


MODELS = [f"kin/ft{i:02d}" for i in range(21)]


def _finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


def _values(database: Database) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    with database.session() as session:
        rows = session.exec(select(Kinship)).all()
    return {(r.model_a, r.model_b, r.base): (r.cs, r.pcc, r.ed) for r in rows}  # type: ignore[misc]


def _jobs(database: Database) -> list[KinshipJob]:
    with database.session() as session:
        return list_jobs(session)


def _wait_for_running(database: Database, proc: subprocess.Popen[str]) -> KinshipJob:
    """The job ``proc`` is computing, as soon as one is running (the process must not
    have ended first)."""
    while True:
        running = [j for j in _jobs(database) if j.status == "running"]
        if running:
            return running[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def test_four_postgres_workers_compute_200_jobs_exactly_once(
    pg_url: str, emu: HubEmulator, tmp_path: Path
) -> None:
    targets = pair_targets(MODELS, limit=200)
    assert {t.kind for t in targets} == {"pair"} and len(targets) == 200
    database = open_database(pg_url)
    alone = open_database(f"sqlite:///{tmp_path / 'alone.db'}")
    try:
        queue(database, targets)
        procs = [
            worker_process(
                "--until-empty",
                "--worker-id",
                f"w{i}",
                db_url=pg_url,
                endpoint=emu.url,
                hf_home=tmp_path / "hf",
            )
            for i in range(4)
        ]
        reports = [_finish(p) for p in procs]
        assert sum(r["done"] for r in reports) == 200
        assert sum(r["claimed"] for r in reports) == 200
        assert all(r["failed"] == r["released"] == r["lost"] == 0 for r in reports)
        assert sum(r["claimed"] > 0 for r in reports) >= 2  # they really shared the queue

        jobs = _jobs(database)
        assert len(jobs) == 200
        assert all(j.status == "done" and j.attempts == 1 for j in jobs)
        assert len({j.kinship_id for j in jobs}) == 200
        owners = {r["worker_id"] for r in reports}
        assert owners == {"w0", "w1", "w2", "w3"}
        shared = _values(database)
        assert len(shared) == 200  # one result row per job: nothing computed twice

        # One worker over the same jobs gives the same values.
        queue(alone, targets)
        report = Worker(alone, WorkerSettings(endpoint=emu.url, plan="pro")).run(until_empty=True)
        assert report.done == 200
        single = _values(alone)
        assert single.keys() == shared.keys()
        for key, value in single.items():
            assert shared[key] == pytest.approx(value, rel=1e-12), key
    finally:
        database.dispose()
        alone.dispose()


def test_a_killed_workers_job_is_taken_over_after_its_lease_expires(
    pg_url: str, hub_root: Path, emu: HubEmulator, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    database = open_database(pg_url)
    try:
        queue(database, pair_targets(MODELS[:3]))  # 3 pair + 3 edge jobs, 3 measurements
        with hub_emulator(hub_root, latency_ms=300) as slow:
            proc = worker_process(
                "--until-empty", "--worker-id", "doomed", "--lease", "1",
                db_url=pg_url, endpoint=slow.url, hf_home=tmp_path / "hf",
            )  # fmt: skip
            held = _wait_for_running(database, proc)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        (job,) = [j for j in _jobs(database) if j.id == held.id]
        assert (job.status, job.lease_owner, job.attempts) == ("running", "doomed", 1)
        assert job.lease_until is not None
        while (to_utc(job.lease_until) or utcnow()) >= utcnow():  # nobody renews it now
            time.sleep(0.1)

        rescuer = Worker(database, WorkerSettings(endpoint=emu.url, worker_id="rescuer"))
        report = rescuer.run(until_empty=True)
        assert report.failed == report.lost == 0
        jobs = {j.id: j for j in _jobs(database)}
        assert {j.status for j in jobs.values()} == {"done"}
        assert jobs[held.id].attempts == 2
        assert len(_values(database)) == 3  # nothing lost, nothing stored twice
    finally:
        database.dispose()


def test_two_sqlite_workers_never_take_the_same_job(emu: HubEmulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    database = open_database(url)
    try:
        queue(database, pair_targets(MODELS[:10], limit=40))
        procs = [
            worker_process(
                "--until-empty",
                "--worker-id",
                f"s{i}",
                "--mode",
                "sampled",
                "--sample",
                "0.5",
                db_url=url,
                endpoint=emu.url,
                hf_home=tmp_path / "hf",
            )
            for i in range(2)
        ]
        reports = [_finish(p) for p in procs]
        assert sum(r["done"] for r in reports) == 40
        assert sum(r["claimed"] for r in reports) == 40
        jobs = _jobs(database)
        assert all(j.status == "done" and j.attempts == 1 for j in jobs)
        assert len(_values(database)) == 40
    finally:
        database.dispose()


def test_sigterm_releases_the_current_job_and_exits_cleanly(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    database = open_database(url)
    try:
        queue(database, pair_targets(MODELS[:2], limit=1))
        with hub_emulator(hub_root, latency_ms=300) as slow:
            proc = worker_process(
                "--until-empty", "--mode", "exact",
                db_url=url, endpoint=slow.url, hf_home=tmp_path / "hf",
            )  # fmt: skip
            _wait_for_running(database, proc)
            proc.send_signal(signal.SIGTERM)
            report = _finish(proc)
        assert (report["status"], report["released"], report["done"]) == ("stopped", 1, 0)
        (job,) = _jobs(database)
        assert (job.status, job.attempts, job.lease_owner) == ("pending", 0, None)
    finally:
        database.dispose()
