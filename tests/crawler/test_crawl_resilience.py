"""Faults, crashes and rate limits leave the same database as a clean crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kinhub.crawler.crawl import CrawlOptions
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database, open_database
from kinhub.db.models import CrawlState, Edge, Model
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy
from kinhub.pipeline.crawl import crawl_then_queue
from kinhub.sandbox.hub import HubManifest, generate_hub
from sqlalchemy import func
from sqlmodel import col, select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import hub_client, run_crawl, table_snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_hub(synthetic_hub: Callable[..., HubManifest]) -> HubManifest:
    return synthetic_hub(n_models=60, seed=5)


@pytest.fixture(scope="module")
def clean_snapshot(
    small_hub: HubManifest,
    tmp_path_factory: pytest.TempPathFactory,
    module_hub_emulator: HubEmulators,
) -> dict[str, list[tuple[object, ...]]]:
    """The tables after a fault-free crawl (SQLite), the reference for the others."""
    tmp = tmp_path_factory.mktemp("clean")
    database = open_database(f"sqlite:///{tmp / 'clean.db'}")
    try:
        with module_hub_emulator(small_hub.root) as emu:
            report = run_crawl(database, emu.url, tmp / "cache", scope="merges", page_size=10)
        assert report.complete and not report.counts["errors"].get("error")
        return table_snapshot(database)
    finally:
        database.dispose()


def test_faulty_hub_gives_the_same_database(
    small_hub: HubManifest,
    clean_snapshot: dict[str, list[tuple[object, ...]]],
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'faulty.db'}")
    with hub_emulator(small_hub.root, fail_rate=0.2, seed=3) as emu:
        # More threads: the client's own retries sleep whole seconds.
        report = run_crawl(
            database, emu.url, tmp_path / "cache", scope="merges", page_size=10, concurrency=16
        )
        stats = emu.stats()
    # Every kind of fault happened and was survived.
    assert {"429", "500", "503", "reset", "truncated"} <= set(stats["faults"])
    assert report.requests["retries"]["api"] > 0 and report.requests["retries"]["resolve"] > 0
    assert report.complete and "error" not in report.counts["errors"], report.to_dict()
    assert table_snapshot(database) == clean_snapshot
    database.dispose()


def _count(database: Database, model: type[Model] | type[Edge]) -> int:
    with database.session() as session:
        return int(session.exec(select(func.count(col(model.id)))).one())


def test_sigkill_mid_crawl_then_resume(
    small_hub: HubManifest,
    clean_snapshot: dict[str, list[tuple[object, ...]]],
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    database = open_database(url)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf")}
    with hub_emulator(small_hub.root, latency_ms=15) as emu:
        command = [
            sys.executable, "-m", "kinhub.cli", "--db", url, "crawl", "--scope", "merges",
            "--endpoint", emu.url, "--page-size", "10", "--concurrency", "2", "-q",
        ]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        try:
            # Kill once some pages are committed but the listings are not finished.
            while proc.poll() is None:
                with database.session() as session:
                    cursors = session.exec(
                        select(CrawlState).where(col(CrawlState.cursor).is_not(None))
                    ).all()
                if cursors and _count(database, Model) >= 20:
                    break
                time.sleep(0.02)
            assert proc.poll() is None, "the crawl finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        partial = table_snapshot(database)
        assert any(row[1] for row in partial["crawl_state"])  # a stored cursor to resume from

        resumed = subprocess.run(
            [*command[:-1], "--format", "json", "-q"], cwd=ROOT, env=env, capture_output=True
        )
        assert resumed.returncode == 0, resumed.stderr.decode()
    assert table_snapshot(database) == clean_snapshot
    with database.session() as session:
        repo_ids = list(session.exec(select(Model.repo_id)))
    assert len(repo_ids) == len(set(repo_ids))
    database.dispose()


def test_rate_limited_hub_completes(tmp_path: Path, hub_emulator: HubEmulators) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=24, seed=8, weights=False)
    database = open_database(f"sqlite:///{tmp_path / 'limited.db'}")
    try:
        with hub_emulator(manifest.root, rate_limit=12, rate_window_s=1.0) as emu:
            hub = hub_client(
                emu.url,
                tmp_path / "cache",
                retry=RetryPolicy(base_delay_s=0.05, max_rate_limit_waits=100),
                limits=RateLimits.for_plan("anonymous"),
            )
            report = crawl_then_queue(
                database, hub, CrawlOptions(scope=Scope.parse("merges"), page_size=10)
            )
            stats = emu.stats()
    finally:
        database.dispose()
    # The quota was met: refused requests (429, counted on both sides) or pauses the
    # client took when an answer said the window was spent (r=0).
    refused = stats["statuses"].get("429", 0)
    assert refused == sum(report.requests["rate_limited"].values())
    assert refused > 0 or hub.limits.api.waited_s + hub.limits.resolve.waited_s > 0
    assert report.complete and "error" not in report.counts["errors"], report.to_dict()
    assert report.counts["models_seen"] + report.counts["references_followed"] >= 10
