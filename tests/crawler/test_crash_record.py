"""Crashes leave a true record (issue 16): a crawl killed with SIGKILL is closed as
``interrupted`` by the next crawl, which holds the lock no live crawl can hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kinhub.db.engine import Database
from kinhub.db.models import CrawlRun, Model
from kinhub.pipeline.crawl import CrawlSettings, run_crawl
from kinhub.sandbox.hub import HubManifest
from sqlalchemy import func
from sqlmodel import col, select

from tests.conftest import HubEmulators

ROOT = Path(__file__).resolve().parents[2]


def _runs(database: Database) -> list[tuple[int, str]]:
    with database.session() as session:
        rows = session.exec(select(CrawlRun).order_by(col(CrawlRun.id)))
        return [(r.id or 0, r.status) for r in rows]


def test_a_killed_crawl_is_marked_interrupted_by_the_next_one(
    database: Database,
    database_url: str,
    synthetic_hub: Callable[..., HubManifest],
    hub_emulator: HubEmulators,
    tmp_path: Path,
) -> None:
    hub = synthetic_hub(n_models=40, seed=11)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf")}
    with hub_emulator(hub.root, latency_ms=20) as emu:
        command = [
            sys.executable, "-m", "kinhub.cli", "--db", database_url, "crawl",
            "--endpoint", emu.url, "--page-size", "5", "--concurrency", "1", "-q",
        ]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            while proc.poll() is None:
                with database.session() as session:
                    stored = session.exec(select(func.count(col(Model.id)))).one()
                if stored >= 5 and any(s == "running" for _, s in _runs(database)):
                    break
                time.sleep(0.02)
            assert proc.poll() is None, "the crawl finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        [(killed, status)] = _runs(database)
        assert status == "running"  # what the killed process left

        report = run_crawl(
            database,
            settings=CrawlSettings(endpoint=emu.url, cache_dir=tmp_path / "cache", page_size=5),
        )
    assert report.status == "ok"
    assert _runs(database) == [(killed, "interrupted"), (report.run_id, "ok")]
    with database.session() as session:
        run = session.get(CrawlRun, killed)
        assert run is not None and run.finished_at is not None and run.error
