"""The worker reads the Hub its jobs came from: ``kinhub crawl --endpoint URL`` stores
the endpoint (and plan, never a token) in the database; ``kinhub worker``,
``kinship``, ``partners`` and ``plan`` use it unless ``--endpoint`` or
``HF_ENDPOINT`` says otherwise; a worker whose Hub does not answer ends the run with
one line and exit 1, its job left queued."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.settings import StoredHub, remember_hub, stored_endpoint, stored_hub
from kinhub.hub.config import choose_hub, endpoint_for
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.families import MergeFamily
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, write_family

runner = CliRunner()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_choose_hub_precedence(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert stored_hub(database) == StoredHub()
    assert choose_hub(database).source == "default"
    assert endpoint_for(database) == "https://huggingface.co"

    with database.write_transaction() as session:
        # Credentials written into a URL are never stored.
        remember_hub(session, endpoint="http://user:secret@127.0.0.1:9/hub/?token=x", plan="pro")
    assert stored_endpoint(database) == "http://127.0.0.1:9/hub"
    chosen = choose_hub(database)
    assert (chosen.endpoint, chosen.plan, chosen.source) == (
        "http://127.0.0.1:9/hub",
        "pro",
        "stored",
    )

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:8/")
    chosen = choose_hub(database)
    # Another Hub than the stored one: the stored plan is not its plan.
    assert (chosen.endpoint, chosen.plan, chosen.source) == (
        "http://127.0.0.1:8",
        None,
        "HF_ENDPOINT",
    )
    chosen = choose_hub(database, endpoint="http://127.0.0.1:7", plan="free")
    assert (chosen.endpoint, chosen.plan, chosen.source) == ("http://127.0.0.1:7", "free", "option")

    with database.write_transaction() as session:
        remember_hub(session, endpoint="http://127.0.0.1:6", plan="free")
    monkeypatch.delenv("HF_ENDPOINT")
    assert choose_hub(database).endpoint == "http://127.0.0.1:6"
    assert Worker(database, WorkerSettings()).settings.endpoint == "http://127.0.0.1:6"


def test_crawl_endpoint_then_worker_without_one(
    database: Database,
    database_url: str,
    merge_family: MergeFamily,
    hub_emulator: HubEmulators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    with hub_emulator(merge_family.root) as emu:
        _json(
            "--db",
            database_url,
            "crawl",
            "--scope",
            "full",
            "--endpoint",
            emu.url,
            "--plan",
            "pro",
            "-q",
        )
        assert stored_hub(database) == StoredHub(endpoint=emu.url, plan="pro")
        with database.session() as session:
            assert list_jobs(session, status="pending")

        report = _json("--db", database_url, "worker", "--until-empty", "--max-jobs", "2")
        assert (report["claimed"], report["done"], report["failed"]) == (2, 2, 0), report

        # kinship by hand on one of the family's triples: the stored Hub again.
        with database.session() as session:
            job = list_jobs(session, status="done")[0]
        got = _json("--db", database_url, "kinship", job.model_a, job.model_b, "--base", job.base)
        assert set(got["metrics"]) >= {"cs", "pcc", "ed"}


def test_worker_with_an_unreachable_hub_fails_in_one_line(
    database: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    write_family(tmp_path / "hub", n=2)
    queue(database, pair_targets(["kin/ft00", "kin/ft01"], limit=1))
    closed = _closed_port_url()
    with database.write_transaction() as session:  # as `kinhub crawl --endpoint` leaves it
        remember_hub(session, endpoint=closed, plan="anonymous")

    result = runner.invoke(app, ["--db", database_url, "worker", "--until-empty"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot reach the Hub at " + closed in lines[0]
    assert "last crawl" in lines[0]
    with database.session() as session:
        (job,) = list_jobs(session)
    assert (job.status, job.attempts) == ("pending", 0)

    # --endpoint overrides the stored Hub (and is named as the source).
    other = _closed_port_url()
    result = runner.invoke(app, ["--db", database_url, "worker", "--once", "--endpoint", other])
    assert result.exit_code == 1
    assert f"cannot reach the Hub at {other} (from --endpoint)" in result.stderr
    # Credentials written into the URL are never shown.
    secret = other.replace("http://", "http://user:s3cret@")
    result = runner.invoke(app, ["--db", database_url, "worker", "--once", "--endpoint", secret])
    assert result.exit_code == 1
    assert f"cannot reach the Hub at {other} " in result.stderr
    assert "s3cret" not in result.output


def test_ingested_local_merge_is_read_from_its_folder(
    database: Database,
    database_url: str,
    merge_family: MergeFamily,
    hub_emulator: HubEmulators,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`kinhub ingest` of a mergekit output: the jobs of the local model read its
    weights from the folder (the Hub does not have it), the others from the Hub."""
    import shutil

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    out = tmp_path / "merged"
    shutil.copytree(merge_family.root / "m1" / "ties", out)
    with hub_emulator(merge_family.root) as emu:
        # Its parents are known (crawled) before the local merge is ingested.
        _json("--db", database_url, "crawl", "--scope", "full", "--endpoint", emu.url, "-q")
        report = _json("--db", database_url, "ingest", str(out), "--repo-id", "me/local-ties")
        assert report["jobs_queued"] > 0 and report["jobs_note"] is None
        with database.session() as session:
            jobs = list_jobs(session, status="pending")
        local = [j for j in jobs if "me/local-ties" in (j.model_a, j.model_b)]
        assert local

        done = _json("--db", database_url, "worker", "--until-empty")
    assert done["errors"] == [] and done["failed"] == 0, done
    assert done["done"] == len(jobs)
    with database.session() as session:
        statuses = {j.id: j.status for j in list_jobs(session)}
    assert {statuses[j.id] for j in local} == {"done"}


def test_ingest_without_weights_says_where_jobs_read_it(
    database: Database, database_url: str, merge_family: MergeFamily, tmp_path: Path
) -> None:
    out = tmp_path / "card-only"
    out.mkdir()
    for f in (merge_family.root / "m1" / "ties").iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            (out / f.name).write_bytes(f.read_bytes())
    report = _json("--db", database_url, "ingest", str(out), "--repo-id", "me/card-only")
    assert report["edges"] > 0
    assert "no *.safetensors weights" in report["jobs_note"]
    assert "read it from the Hub" in report["jobs_note"]
    args = ["--db", database_url, "ingest", str(out), "--repo-id", "me/card-only"]
    text = runner.invoke(app, args)
    assert "kinship jobs queued" in text.stdout and "read it from the Hub" in text.stdout


def test_partners_and_plan_measure_on_the_stored_hub(
    database_url: str,
    tmp_path: Path,
    hub_emulator: HubEmulators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`partners --compute` and `plan` read the crawled models' weights from the Hub
    the crawl stored (no HF_ENDPOINT, no option)."""
    from tests.kinship.partners_hub import generate_partner_hub

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    root = generate_partner_hub(tmp_path / "hub")
    with hub_emulator(root) as emu:
        _json("--db", database_url, "crawl", "--scope", "full", "--endpoint", emu.url, "-q")
        doc = _json("--db", database_url, "partners", "fam/ft-a", "--top", "2")
        assert {c["kinship"]["mode"] for c in doc["candidates"]} == {"sampled"}
        planned = _json(
            "--db", database_url, "plan", "fam/ft-a", "fam/ft-b", "fam/ft-c", "--k", "2"
        )
        merges = planned["generations"][0]["merges"]
        assert merges and all(m["kinship"]["mode"] == "sampled" for m in merges)
