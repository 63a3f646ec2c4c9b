"""``kinhub worker --mode sketch`` (and ``auto`` above the sketch threshold) on both
backends: every job answered from sketches, each model's sketch read once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.db.engine import Database
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship, ModelSketch
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.emulator import HubEmulator
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, write_family

MODELS = ["kin/ft00", "kin/ft01", "kin/ft02"]


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sketch_worker_hub")
    write_family(root, n=3)
    return root


@pytest.fixture
def emu(hub_root: Path, hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with hub_emulator(hub_root) as server:
        yield server


def test_sketch_mode_answers_every_job_reading_each_model_once(
    database: Database, emu: HubEmulator
) -> None:
    queue(database, pair_targets(MODELS))  # 3 pair + 3 edge jobs over 4 models
    settings = WorkerSettings(endpoint=emu.url, worker_id="w1", mode="sketch")
    report = Worker(database, settings).run(until_empty=True)
    assert (report.done, report.failed) == (6, 0) and report.modes == {"sketch": 6}
    served = emu.stats()
    # One weights file per model, resolved once: 4 models, 4 resolver requests in all.
    assert served["requests"]["resolve"] == 4
    with database.session() as session:
        jobs = list_jobs(session)
        rows = list(session.exec(select(Kinship)))
        sketches = list(session.exec(select(ModelSketch)))
    assert {j.status for j in jobs} == {"done"} and {j.mode for j in jobs} == {"sketch"}
    assert len(sketches) == 4
    assert rows and {r.mode for r in rows} == {"sketch"}
    for row in rows:
        assert set(row.intervals) >= {"cs", "pcc", "ed"}
        assert row.cs is not None and abs(row.cs - 0.5) < 0.1


def test_auto_mode_uses_sketches_above_the_threshold(database: Database, emu: HubEmulator) -> None:
    queue(database, pair_targets(MODELS[:2], limit=1))
    settings = WorkerSettings(endpoint=emu.url, exact_max_bytes=1, sketch_min_bytes=1)
    report = Worker(database, settings).run(until_empty=True)
    assert report.modes == {"sketch": 1}
    queue(database, pair_targets(MODELS[1:], limit=1))
    below = WorkerSettings(endpoint=emu.url, exact_max_bytes=1, sketch_min_bytes=10**12)
    assert Worker(database, below).run(until_empty=True).modes == {"sampled": 1}
