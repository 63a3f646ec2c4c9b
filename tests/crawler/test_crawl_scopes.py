"""Scopes, --limit with resume, and scope validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.crawler.scope import MERGE_TAGS, Scope, ScopeError
from kinhub.db.engine import open_database
from kinhub.db.models import Edge, Model
from kinhub.sandbox.hub import FOUNDATIONS, generate_hub
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl, table_snapshot


def test_scope_parsing() -> None:
    assert [x.filters for x in Scope.parse("merges").listings()] == [(t,) for t in MERGE_TAGS]
    assert Scope.parse("children-of", "org/x").listings()[0].filters == ("base_model:org/x",)
    assert Scope.parse("full").listings()[0].filters == ()
    for bad in (("children-of", None), ("children-of", "../etc"), ("sideways", None)):
        with pytest.raises(ScopeError):
            Scope.parse(*bad)


def test_children_of_and_limit_resume(tmp_path: Path, hub_emulator: HubEmulators) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=25, seed=4, weights=False)
    foundation = FOUNDATIONS[0]
    children = open_database(f"sqlite:///{tmp_path / 'children.db'}")
    limited = open_database(f"sqlite:///{tmp_path / 'limited.db'}")
    whole = open_database(f"sqlite:///{tmp_path / 'whole.db'}")
    try:
        with hub_emulator(manifest.root) as emu:
            report = run_crawl(
                children, emu.url, tmp_path / "c1", scope="children-of:" + foundation
            )
            assert report.counts["models_seen"] > 0

            first = run_crawl(limited, emu.url, tmp_path / "c2", limit=7, page_size=5)
            assert not first.complete and first.counts["models_seen"] == 7
            assert any(row[1] for row in table_snapshot(limited)["crawl_state"])
            rest = run_crawl(limited, emu.url, tmp_path / "c3", page_size=5)
            assert rest.complete
            run_crawl(whole, emu.url, tmp_path / "c4", page_size=5)
        assert table_snapshot(limited) == table_snapshot(whole)

        # Every listed child names the foundation as its base model; the
        # foundation itself was fetched as a followed reference.
        with children.session() as session:
            rows = {m.id: m for m in session.exec(select(Model))}
            by_name = {m.repo_id: m for m in rows.values()}
            parents_of: dict[str, set[str]] = {}
            for e in session.exec(select(Edge)):
                parents_of.setdefault(rows[e.child_id].repo_id, set()).add(
                    rows[e.parent_id].repo_id
                )
        assert by_name[foundation].status == "ok"
        listed = [r for r, m in by_name.items() if f"base_model:{foundation}" in m.tags]
        assert len(listed) == report.counts["models_seen"]
        assert all(foundation in parents_of[r] for r in listed)
    finally:
        for database in (children, limited, whole):
            database.dispose()


def test_crawl_cli_json_summary_and_run_row(tmp_path: Path, hub_emulator: HubEmulators) -> None:
    from kinhub.cli.app import app
    from kinhub.db.models import CrawlRun
    from typer.testing import CliRunner

    manifest = generate_hub(tmp_path / "hub", n_models=20, seed=9, weights=False)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    runner = CliRunner()
    with hub_emulator(manifest.root) as emu:
        args = ["--db", url, "crawl", "--endpoint", emu.url, "--format", "json", "-q"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        bad = runner.invoke(app, ["--db", url, "crawl", "--scope", "children-of"])
    assert bad.exit_code == 1
    assert summary["status"] == "ok" and summary["complete"]
    assert summary["new"] > 0 and summary["requests"]["calls"]["api"] >= len(MERGE_TAGS)
    database = open_database(url)
    try:
        with database.session() as session:
            run = session.get(CrawlRun, summary["run_id"])
        assert run is not None and run.kind == "crawl" and run.status == "ok"
        assert run.counts["new"] == summary["new"]
    finally:
        database.dispose()


def test_cursor_of_another_endpoint_restarts_the_listing(
    tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    from kinhub.db.crawl_state import save_checkpoint

    manifest = generate_hub(tmp_path / "hub", n_models=12, seed=1, weights=False)
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with database.session() as session:
            save_checkpoint(
                session,
                "models:all",
                cursor="http://elsewhere.invalid/api/models?cursor=abc",
                high_water=None,
            )
        with hub_emulator(manifest.root) as emu:
            report = run_crawl(database, emu.url, tmp_path / "cache")
        assert report.complete
        # Every generated repo is listed (missing parents are not repos).
        assert report.counts["models_seen"] == len(manifest.ids())
    finally:
        database.dispose()


def test_since_stops_the_listing_at_a_date(tmp_path: Path, hub_emulator: HubEmulators) -> None:
    from kinhub.db.timeutil import parse_hub_time

    manifest = generate_hub(tmp_path / "hub", n_models=20, seed=6, weights=False)
    dates = sorted((r.last_modified for r in manifest.repos.values()), reverse=True)
    since = parse_hub_time(dates[4])
    assert since is not None
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with hub_emulator(manifest.root) as emu:
            report = run_crawl(
                database, emu.url, tmp_path / "cache", since=since, follow_references=False
            )
        assert report.complete
        assert report.counts["models_seen"] == sum(
            1
            for d in dates
            if parse_hub_time(d) >= since  # type: ignore[operator]
        )
    finally:
        database.dispose()
