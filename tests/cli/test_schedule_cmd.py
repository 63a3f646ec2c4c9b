"""`kinhub schedule --once`: the tick runs the kinship worker after the crawl, and
takes MODEL the way `crawl` does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import open_database
from kinhub.db.models import CrawlRun
from kinhub.sandbox.hub import HubManifest
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators


@pytest.fixture(scope="module")
def hub(synthetic_hub: Callable[..., HubManifest]) -> HubManifest:
    return synthetic_hub(n_models=20, seed=3)


def _once(url: str, endpoint: str, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app,
        ["--db", url, "schedule", *extra, "--once", "--endpoint", endpoint,
         "--kinship-budget", "0", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_once_runs_the_kinship_worker_after_the_crawl(
    hub: HubManifest, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    with hub_emulator(hub.root) as emu:
        summary = _once(url, emu.url)
    assert summary["status"] == "ok"
    crawl, kinship = summary["crawl"], summary["kinship"]
    assert isinstance(crawl, dict) and crawl["new"] > 0
    # The worker's own report, not "not available": it was wired in as the step.
    assert isinstance(kinship, dict) and "worker_id" in kinship
    database = open_database(url)
    try:
        with database.session() as session:
            run = session.exec(select(CrawlRun).where(CrawlRun.kind == "schedule")).one()
        assert run.status == "ok" and run.finished_at is not None
    finally:
        database.dispose()


def test_model_is_an_argument_like_crawl(
    hub: HubManifest, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    base = next(r.id for r in hub.repos.values() if r.kind == "foundation")
    with hub_emulator(hub.root) as emu:
        positional = _once(
            f"sqlite:///{tmp_path / 'a.db'}", emu.url, base, "--scope", "children-of"
        )
        legacy = _once(
            f"sqlite:///{tmp_path / 'b.db'}", emu.url, "--scope", "children-of", "--model", base
        )
    for summary in (positional, legacy):
        crawl = summary["crawl"]
        assert isinstance(crawl, dict) and crawl["scope"] == f"children-of:{base}"


def test_scope_without_model_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--db", f"sqlite:///{tmp_path / 'k.db'}", "schedule", "--scope", "children-of",
              "--once"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "children-of needs a model id" in result.output
