"""Crawl-, reparse-then-queue: the crawler tells the pipeline what it wrote through
``on_written``, in the writing transaction, and knows nothing of kinship jobs.

The merge family (sandbox/families.py) is crawled with and without the hook;
tests/crawler/test_jobs_from_crawl.py and tests/db/test_job_plan.py check which jobs
the flows queue, these check the seam between the rooms.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from kinhub.crawler.crawl import CrawlOptions, CrawlReport, crawl
from kinhub.crawler.ingest import read_local_model
from kinhub.crawler.reparse import reparse
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database, open_database
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.models import CrawlRun, CrawlState, Edge, KinshipJob, Model
from kinhub.db.store import upsert_model
from kinhub.pipeline.crawl import crawl_then_queue
from kinhub.pipeline.reparse import run_reparse
from kinhub.sandbox.families import MergeFamily, generate_merge_family
from sqlmodel import Session, col, select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import hub_client, table_snapshot

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = CrawlOptions(scope=Scope.parse("full"), page_size=4)
Hook = Callable[[Session, list[str]], int]


class HookFailed(Exception):
    """Raised by a hook to show what its transaction does with the rows."""


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> MergeFamily:
    return generate_merge_family(tmp_path_factory.mktemp("hub"), weights=False)


def _crawl(database: Database, url: str, cache: Path, hook: Hook | None) -> CrawlReport:
    return crawl(database, hub_client(url, cache), OPTIONS, on_written=hook)


def _jobs(database: Database) -> set[tuple[str, str, str, str, str, str]]:
    with database.session() as session:
        return {
            (j.job_key, j.kind, j.model_a, j.model_b, j.base, j.status)
            for j in session.exec(select(KinshipJob))
        }


def _models(database: Database) -> dict[str, Model]:
    with database.session() as session:
        return {m.repo_id: m for m in session.exec(select(Model))}


def _edge_count(database: Database) -> int:
    with database.session() as session:
        return len(session.exec(select(Edge.id)).all())


def test_the_crawler_alone_queues_nothing_and_writes_what_the_flow_writes(
    database: Database, family: MergeFamily, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    flow = open_database(f"sqlite:///{tmp_path / 'flow.db'}")
    try:
        with hub_emulator(family.root) as emu:
            bare = _crawl(database, emu.url, tmp_path / "c1", None)
            queued = crawl_then_queue(flow, hub_client(emu.url, tmp_path / "c2"), OPTIONS)
        assert bare.counts["jobs_queued"] == 0 and _jobs(database) == set()
        assert queued.counts["jobs_queued"] > 0
        assert table_snapshot(database) == table_snapshot(flow)
        # What the flow queued page by page is what planning every model at the end queues.
        with database.session() as session:
            enqueue_for_models(session, list(_models(database)))
        assert _jobs(database) == _jobs(flow)
    finally:
        flow.dispose()


def test_on_written_gets_every_written_model_in_the_writing_session(
    database: Database, family: MergeFamily, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    calls: list[list[str]] = []

    def hook(session: Session, repo_ids: list[str]) -> int:
        # The rows just written are there in the hook's session, whatever their status.
        found = session.exec(select(Model.repo_id).where(col(Model.repo_id).in_(repo_ids)))
        assert sorted(found) == sorted(repo_ids)
        calls.append(list(repo_ids))
        return 2 * len(repo_ids)

    with hub_emulator(family.root) as emu:
        first = _crawl(database, emu.url, tmp_path / "c1", hook)
        handed = [r for ids in calls for r in ids]
        calls.clear()
        second = _crawl(database, emu.url, tmp_path / "c2", hook)
    models = _models(database)
    # Every model the crawl fetched, once; never a reference it only read in an edge.
    fetched = {r for r, m in models.items() if m.status not in ("pending", "unresolved")}
    assert sorted(handed) == sorted(fetched)
    assert any(m.status == "unresolved" for m in models.values())
    assert first.counts["jobs_queued"] == 2 * len(handed)
    # Nothing changed on the Hub: the hook still runs with each write, on nothing.
    assert calls and all(ids == [] for ids in calls)
    assert second.counts["jobs_queued"] == 0


def test_a_failing_hook_takes_its_page_back(
    database: Database, family: MergeFamily, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    def hook(session: Session, repo_ids: list[str]) -> int:
        raise HookFailed(repo_ids[0])

    with hub_emulator(family.root) as emu, pytest.raises(HookFailed):
        _crawl(database, emu.url, tmp_path / "c1", hook)
    # Edges never committed without what follows them: the first page is not stored,
    # its checkpoint did not move, and the run is recorded as failed.
    assert _models(database) == {}
    with database.session() as session:
        assert session.exec(select(CrawlState)).all() == []
        runs = session.exec(select(CrawlRun)).all()
    assert [r.status for r in runs] == ["failed"]
    assert runs[0].error in family.ids()


def _stale(database: Database, family: MergeFamily, repo_id: str) -> None:
    """``repo_id`` as an old parser stored it: its texts, no edges, no recipe."""
    record = read_local_model(family.root / repo_id, repo_id=repo_id).record
    with database.session() as session:
        upsert_model(session, replace(record, edges=[], recipes=[], parser_version=1))


def test_reparse_hands_over_the_rewritten_models_and_a_failing_hook_undoes_them(
    database: Database, family: MergeFamily
) -> None:
    for repo_id in family.ids():
        with database.session() as session:
            upsert_model(session, read_local_model(family.root / repo_id, repo_id=repo_id).record)
    _stale(database, family, "m1/ties")
    _stale(database, family, "m2/linear")
    edges = _edge_count(database)

    def failing(session: Session, repo_ids: list[str]) -> int:
        raise HookFailed(",".join(repo_ids))

    with pytest.raises(HookFailed, match="m1/ties,m2/linear"):
        reparse(database, on_written=failing)
    assert _edge_count(database) == edges
    assert _jobs(database) == set()

    calls: list[list[str]] = []

    def hook(session: Session, repo_ids: list[str]) -> int:
        calls.append(list(repo_ids))
        return len(repo_ids)

    report = reparse(database, on_written=hook)
    assert calls == [["m1/ties", "m2/linear"]] and report.jobs_queued == 2
    assert _edge_count(database) > edges
    assert _jobs(database) == set()
    # The pipeline's flow queues the jobs of the rewritten edges: nothing is stale now,
    # so re-parse everything after forgetting two models' edges again.
    _stale(database, family, "m1/ties")
    flow = run_reparse(database)
    assert flow.changed_models == ["m1/ties"] and flow.jobs_queued > 0
    assert flow.jobs_queued == len([j for j in _jobs(database) if j[-1] == "pending"])


def _kinhub_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("kinhub.")}


def test_the_crawler_room_never_imports_the_job_system() -> None:
    sources = sorted((ROOT / "crawler").rglob("*.py"))
    assert len(sources) > 10
    importers = {
        path.name
        for path in sources
        if any(name.startswith("kinhub.db.jobs") for name in _kinhub_imports(path))
    }
    assert importers == set()
    # The scan sees imports: the pipeline's flows are found importing it.
    assert any(
        name.startswith("kinhub.db.jobs") for name in _kinhub_imports(ROOT / "pipeline/crawl.py")
    )
