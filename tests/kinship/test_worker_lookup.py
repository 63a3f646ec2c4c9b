"""What the worker stores, ``kinhub kinship`` finds: on both backends, jobs carrying the
models' commit shas are computed by the worker; then a plain ``kinhub kinship A B --base Z``
(names without revisions), the reverse order B A, and the same refs pinned to the shas
with the Hub out of reach all answer from the stored row with the same values, and a
hand-run ``--no-cache`` recompute gives the same numbers into the same row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.jobs.keys import JobTarget
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship
from kinhub.hub.shared import shared_client
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.emulator import HubEmulator
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import queue, write_family

runner = CliRunner()
MODELS = ["kin/ft00", "kin/ft01", "kin/ft02"]
BASE = "kin/base"
METRICS = ("cs", "pcc", "ed")


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lookup_hub")
    write_family(root, n=len(MODELS))
    return root


@pytest.fixture
def emu(hub_root: Path, hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with hub_emulator(hub_root) as server:
        yield server


def _kinship(db_url: str, *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["--db", db_url, "kinship", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _rows(database: Database) -> list[Kinship]:
    with database.session() as session:
        return list(session.exec(select(Kinship)))


def _close(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=0.0), name


def test_plain_names_and_either_order_find_what_the_worker_stored(
    database: Database,
    database_url: str,
    emu: HubEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = shared_client(emu.url)
    sha = {repo: hub.model_info(repo).sha for repo in [*MODELS, BASE]}
    assert all(s and len(s) == 40 for s in sha.values())
    # Jobs as the crawl queues them: every model pinned to the commit it was crawled at.
    targets = [
        JobTarget.canonical(
            kind="pair",
            model_a=a,
            model_b=b,
            base=BASE,
            revision_a=sha[a],
            revision_b=sha[b],
            revision_base=sha[BASE],
        )
        for a, b in [(MODELS[0], MODELS[1]), (MODELS[2], MODELS[0])]
    ]
    queue(database, targets)
    settings = WorkerSettings(endpoint=emu.url, worker_id="w1", metrics=METRICS)
    report = Worker(database, settings).run(until_empty=True)
    assert (report.done, report.failed) == (2, 0), report
    with database.session() as session:
        jobs = list_jobs(session)
    stored = {(r.model_a, r.model_b): r for r in _rows(database)}
    # The row names plain repo ids, in the jobs' order; the commits read are beside them.
    assert set(stored) == {(t.model_a, t.model_b) for t in targets}
    for (a, b), row in stored.items():
        assert row.base == BASE
        assert (row.revision_a, row.revision_b, row.revision_base) == (sha[a], sha[b], sha[BASE])
    assert {j.kinship_id for j in jobs} == {r.id for r in stored.values()}

    monkeypatch.setenv("HF_ENDPOINT", emu.url)
    for (a, b), row in stored.items():
        want = {"cs": row.cs, "pcc": row.pcc, "ed": row.ed}
        plain = _kinship(database_url, a, b, "--base", BASE)
        assert plain["cached"] is True and plain["bytes_read"] == 0
        assert (plain["a"], plain["b"], plain["base"]) == (a, b, BASE)
        assert plain["metrics"] == want
        assert plain["revisions"] == {"a": sha[a], "b": sha[b], "base": sha[BASE]}

        reverse = _kinship(database_url, b, a, "--base", BASE)
        assert reverse["cached"] is True and reverse["bytes_read"] == 0
        assert (reverse["a"], reverse["b"]) == (b, a)  # answered in the order asked
        assert reverse["metrics"] == want  # cs, pcc and ed are symmetric
        assert reverse["revisions"] == {"a": sha[b], "b": sha[a], "base": sha[BASE]}

        # By hand, recomputed: the same numbers, stored into the same row.
        fresh = _kinship(database_url, b, a, "--base", BASE, "--no-cache")
        assert fresh["cached"] is False and fresh["bytes_read"] > 0
        _close(fresh["metrics"], want)
    assert len(_rows(database)) == len(stored)

    # Pinned to full commit shas the stored row answers without asking the Hub.
    emu.reset_stats()
    a, b = next(iter(stored))
    pinned = _kinship(
        database_url, f"{a}@{sha[a]}", f"{b}@{sha[b]}", "--base", f"{BASE}@{sha[BASE]}"
    )
    assert pinned["cached"] is True
    assert sum(emu.stats()["requests"].values()) == 0
