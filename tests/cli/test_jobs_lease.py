"""``kinhub jobs retry`` names jobs that do not exist; ``kinhub jobs`` shows a running
job's lease holder and expiry; a SIGKILLed ``kinhub worker``'s job comes back when its
lease expires and another worker completes it — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.db.jobs.queue import list_jobs
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, worker_process, write_family

runner = CliRunner()


def _jobs_json(url: str) -> dict:
    result = runner.invoke(app, ["--db", url, "jobs", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_retry_of_a_missing_job_says_so(database_url: str) -> None:
    database = open_database(database_url)
    try:
        queue(database, pair_targets(["kin/ft00", "kin/ft01"], limit=1))
        with database.session() as session:
            (job,) = [j for j in list_jobs(session) if j.kind == "pair"]
    finally:
        database.dispose()
    result = runner.invoke(app, ["--db", database_url, "jobs", "retry", "999999"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == ["error: no such job: 999999"]
    assert "requeued" not in result.stdout

    # One missing id among existing ones: nothing is requeued.
    both = runner.invoke(app, ["--db", database_url, "jobs", "retry", str(job.id), "424242"])
    assert both.exit_code == 1 and "424242" in both.stderr and str(job.id) not in both.stderr

    found = runner.invoke(app, ["--db", database_url, "jobs", "retry", str(job.id)])
    assert found.exit_code == 0, found.output
    assert f"requeued 1 job(s): {job.id}" in found.stdout


def test_a_killed_workers_job_comes_back_after_its_lease(
    database_url: str, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    root = tmp_path / "hub"
    write_family(root, n=2)
    database = open_database(database_url)
    try:
        queue(database, pair_targets(["kin/ft00", "kin/ft01"], limit=1))
        with hub_emulator(root, latency_ms=400) as slow:
            proc = worker_process(
                "--until-empty", "--worker-id", "doomed", "--mode", "exact",
                db_url=database_url, endpoint=slow.url, hf_home=tmp_path / "hf",
                env={"KINHUB_WORKER_LEASE_S": "1"},
            )  # fmt: skip
            while True:
                with database.session() as session:
                    running = [j for j in list_jobs(session) if j.status == "running"]
                if running:
                    break
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        held = running[0].id

        listing = _jobs_json(database_url)
        (job,) = [j for j in listing["jobs"] if j["id"] == held]
        assert (job["status"], job["lease_owner"]) == ("running", "doomed")
        assert job["lease_until"] is not None and job["lease_expired"] in (True, False)
        while not job["lease_expired"]:  # nobody renews the lease of a dead worker
            time.sleep(0.2)
            (job,) = [j for j in _jobs_json(database_url)["jobs"] if j["id"] == held]
        assert [w["worker_id"] for w in listing["workers"]] == ["doomed"]
        table = runner.invoke(app, ["--db", database_url, "jobs", "--status", "running"])
        assert "doomed: jobs" in table.stdout and "EXPIRED" in table.stdout

        with hub_emulator(root) as fast:
            rescuer = worker_process(
                "--until-empty", "--worker-id", "rescuer",
                db_url=database_url, endpoint=fast.url, hf_home=tmp_path / "hf2",
            )  # fmt: skip
            out, err = rescuer.communicate()
        assert rescuer.returncode == 0, err[-3000:]
        report = json.loads(out)
        assert report["failed"] == report["lost"] == 0 and report["done"] >= 1
        after = {j["id"]: j for j in _jobs_json(database_url)["jobs"]}
        assert {j["status"] for j in after.values()} == {"done"}
        assert after[held]["attempts"] == 2 and after[held]["lease_expired"] is None
    finally:
        database.dispose()


@pytest.mark.parametrize("bad", ["0", "7"])
def test_retry_needs_real_ids(bad: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'k.db'}", "jobs", "retry", bad])
    assert result.exit_code == 1, result.output
    assert "no such job" in result.stderr
