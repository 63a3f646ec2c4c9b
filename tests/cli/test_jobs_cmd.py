"""``kinhub worker`` and ``kinhub jobs`` through the CLI: failures show with their
reasons, running jobs show their worker, ``jobs retry`` requeues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.db.jobs.keys import JobTarget
from kinhub.db.jobs.queue import claim_job
from kinhub.sandbox.emulator import HubEmulator
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, write_bad_repos, write_family

runner = CliRunner()


@pytest.fixture
def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_emulator: HubEmulators
) -> tuple[str, HubEmulator]:
    root = tmp_path / "hub"
    write_family(root, n=3)
    write_bad_repos(root)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    database = open_database(url)
    try:
        targets = pair_targets(["kin/ft00", "kin/ft01", "kin/ft02"], limit=3)
        targets += [
            JobTarget(kind="edge", model_a="kin/ft00", model_b=bad, base="kin/base")
            for bad in ("kin/gated", "kin/does-not-exist", "kin/corrupt")
        ]
        queue(database, targets)
    finally:
        database.dispose()
    monkeypatch.setenv("KINHUB_DB", url)
    emu = hub_emulator(root, set_endpoint=True)
    return url, emu


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_worker_then_jobs_show_failures_with_reasons(setup: tuple[str, HubEmulator]) -> None:
    _, emu = setup
    try:
        report = _json("worker", "--until-empty")
        assert (report["done"], report["failed"], report["status"]) == (3, 3, "empty")

        listing = _json("jobs")
        assert listing["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 3}
        reasons = {
            ({f["model_a"], f["model_b"]} - {"kin/ft00"}).pop(): f["error"]
            for f in listing["failures"]
        }
        assert "gated" in reasons["kin/gated"]
        assert "not_found" in reasons["kin/does-not-exist"]
        assert "kin/corrupt" in reasons["kin/corrupt"]
        done = [j for j in listing["jobs"] if j["status"] == "done"]
        assert all(j["kinship_id"] and j["mode"] == "exact" for j in done)

        failed = _json("jobs", "--status", "failed", "--kind", "edge")
        assert len(failed["jobs"]) == 3 and {j["kind"] for j in failed["jobs"]} == {"edge"}
        assert _json("jobs", "--kind", "pair")["jobs"].__len__() == 3

        table = runner.invoke(app, ["jobs"])
        assert table.exit_code == 0
        assert "failed 3" in table.stdout and "gated repo" in table.stdout

        again = _json("jobs", "retry", "--failed")
        assert len(again["requeued"]) == 3
        assert _json("jobs")["counts"]["pending"] == 3
        one = _json("jobs", "retry", str(failed["jobs"][0]["id"]))
        assert one["requeued"] == [failed["jobs"][0]["id"]]
    finally:
        emu.close()


def test_jobs_shows_the_worker_holding_a_lease(setup: tuple[str, HubEmulator]) -> None:
    url, emu = setup
    emu.close()
    database = open_database(url)
    try:
        with database.write_transaction() as session:
            job = claim_job(session, owner="host:1:abc", lease_s=600, max_attempts=3)
    finally:
        database.dispose()
    assert job is not None
    listing = _json("jobs", "--status", "running")
    assert [j["id"] for j in listing["jobs"]] == [job.id]
    (holder,) = listing["workers"]
    assert holder["worker_id"] == "host:1:abc" and holder["jobs"] == [job.id]
    assert holder["expired"] is False
    table = runner.invoke(app, ["jobs"])
    assert "host:1:abc" in table.stdout


def test_worker_rejects_bad_sizes_and_durations() -> None:
    for args in (["--cache-budget", "lots"], ["--time-budget", "soon"]):
        result = runner.invoke(app, ["worker", "--once", *args])
        assert result.exit_code == 2, result.output


def test_retry_needs_ids_or_failed() -> None:
    result = runner.invoke(app, ["jobs", "retry"])
    assert result.exit_code == 2


def test_time_budget_spent_takes_no_job(setup: tuple[str, HubEmulator]) -> None:
    _, emu = setup
    try:
        report = _json("worker", "--time-budget", "0s", "--cache-budget", "1GB")
        assert (report["status"], report["claimed"]) == ("budget", 0)
        assert _json("jobs")["counts"]["pending"] == 6
    finally:
        emu.close()


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("30m", 1800), ("90s", 90), ("5", 5)])
def test_durations(text: str, seconds: float) -> None:
    from kinhub.cli.worker_cmd import parse_duration

    assert parse_duration(text) == seconds
