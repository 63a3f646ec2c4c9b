"""The nightly tick on both backends: scheduled runs never overlap (the second records
"skipped: locked"), and a tick that fails unexpectedly is still recorded.  The locks
themselves: tests/db/test_locks.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database
from kinhub.db.locks import is_locked, run_lock
from kinhub.db.models import CrawlRun
from kinhub.pipeline.tick import LOCK_NAME, TickSettings, run_tick
from kinhub.sandbox.hub import generate_hub
from sqlmodel import col, select

from tests.conftest import HubEmulators

ROOT = Path(__file__).resolve().parents[2]


def test_two_concurrent_scheduled_runs_one_is_skipped(
    database: Database, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=30, seed=2, weights=False)
    entered, leave = threading.Event(), threading.Event()

    def slow_kinship(db: Database, budget_s: float) -> dict[str, Any]:
        # Stands in the kinship slot only to keep the first run inside its lock.
        entered.set()
        leave.wait(30)
        return {"status": "held"}

    results: list[dict[str, Any]] = []
    with hub_emulator(manifest.root) as emu:
        settings = TickSettings(
            scope=Scope.parse("merges"), endpoint=emu.url, retry_base_delay=0.01
        )
        first = threading.Thread(
            target=lambda: results.append(run_tick(database, settings, after_crawl=slow_kinship))
        )
        first.start()
        assert entered.wait(60)
        second = run_tick(database, settings)
        leave.set()
        first.join(60)
    assert second["status"] == "skipped" and second["reason"] == "locked"
    assert results and results[0]["status"] == "ok"
    assert results[0]["crawl"]["models_seen"] > 0
    assert not is_locked(database, LOCK_NAME)
    with database.session() as session:
        runs = session.exec(
            select(CrawlRun).where(CrawlRun.kind == "schedule").order_by(col(CrawlRun.id))
        ).all()
    assert sorted(r.status for r in runs) == ["ok", "skipped"]
    assert next(r for r in runs if r.status == "skipped").error == "skipped: locked"


def test_tick_that_fails_unexpectedly_is_recorded_failed(
    database: Database, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=20, seed=3, weights=False)

    def broken_step(db: Database, budget_s: float) -> dict[str, Any]:
        raise RuntimeError("worker bug")

    with hub_emulator(manifest.root) as emu:
        settings = TickSettings(
            scope=Scope.parse("merges"), endpoint=emu.url, retry_base_delay=0.01
        )
        with pytest.raises(RuntimeError, match="worker bug"):
            run_tick(database, settings, after_crawl=broken_step)
    with database.session() as session:
        runs = session.exec(select(CrawlRun).where(CrawlRun.kind == "schedule")).all()
    assert [r.status for r in runs] == ["failed"]
    assert runs[0].error == "RuntimeError: worker bug"
    assert runs[0].finished_at is not None
    assert not is_locked(database, LOCK_NAME)


def test_schedule_once_cli_skips_when_locked(tmp_path: Path) -> None:
    from kinhub.db.engine import open_database

    url = f"sqlite:///{tmp_path / 'k.db'}"
    database = open_database(url)
    env = dict(os.environ)
    command = [
        sys.executable,
        "-m",
        "kinhub.cli",
        "--db",
        url,
        "schedule",
        "--once",
        "--format",
        "json",
    ]
    try:
        with run_lock(database, LOCK_NAME):
            # The endpoint is never contacted: the run stops at the lock.
            done = subprocess.run(
                [*command, "--endpoint", "http://127.0.0.1:9"], env=env, cwd=ROOT,
                capture_output=True, text=True,
            )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "skipped"
    finally:
        database.dispose()
