"""The job planner over ingested folders, re-parse queueing, and is_common_ancestor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from kinhub.crawler.ingest import read_local_model
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import enqueue_for_models, is_common_ancestor, plan_jobs
from kinhub.db.models import KinshipJob
from kinhub.db.records import EdgeRecord
from kinhub.db.store import upsert_model
from kinhub.pipeline.ingest import ingest_folder
from kinhub.pipeline.reparse import run_reparse
from kinhub.sandbox.families import MergeFamily, generate_merge_family
from sqlalchemy import delete
from sqlmodel import select

from tests.crawler.test_jobs_from_crawl import PENDING, UNMEASURABLE


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> MergeFamily:
    return generate_merge_family(tmp_path_factory.mktemp("hub"), weights=False)


def _ingest(database: Database, family: MergeFamily) -> int:
    queued = 0
    for repo_id in family.ids():  # parents before children
        report = ingest_folder(database, folder=family.root / repo_id, repo_id=repo_id)
        queued += report.jobs_queued
    return queued


def _jobs(database: Database) -> list[KinshipJob]:
    with database.session() as session:
        return list(session.exec(select(KinshipJob)))


def test_ingest_queues_the_same_jobs_as_a_crawl(database: Database, family: MergeFamily) -> None:
    assert _ingest(database, family) == len(PENDING)
    jobs = _jobs(database)
    assert {(j.kind, j.model_a, j.model_b, j.base) for j in jobs if j.status == "pending"} == {
        p[:4] for p in PENDING
    }
    assert {(j.kind, j.model_a, j.model_b, j.last_error) for j in jobs if not j.base} == (
        UNMEASURABLE
    )
    # Planning again (all models, or a re-ingest) queues nothing.
    with database.session() as session:
        assert enqueue_for_models(session, family.ids()).inserted == 0
    assert _ingest(database, family) == 0
    assert len(_jobs(database)) == len(jobs)


def test_plan_is_deterministic_and_pure(database: Database, family: MergeFamily) -> None:
    _ingest(database, family)
    with database.session() as session:
        first = plan_jobs(session, children=reversed(family.ids()))
        second = plan_jobs(session, children=family.ids())
    assert first == second
    assert "m1/moe" not in first.children and "m1/frankenmerge" in first.children
    assert not [t for t in first.targets if t.child in ("m1/moe", "m1/frankenmerge")]


def test_reparse_queues_the_jobs_of_rewritten_edges(
    database: Database, family: MergeFamily
) -> None:
    _ingest(database, family)
    with database.session() as session:
        session.execute(delete(KinshipJob).where(KinshipJob.child == "m2/linear"))
        # Stored by an older parser that found no recipe edges.
        record = read_local_model(family.root / "m2/linear", repo_id="m2/linear").record
        upsert_model(session, replace(record, edges=[], recipes=[], parser_version=0))
    report = run_reparse(database)
    assert report.changed == 1 and report.jobs_queued == 3
    with database.session() as session:
        children = session.exec(select(KinshipJob.child).where(KinshipJob.status == "pending"))
        assert sorted(c for c in children if c == "m2/linear") == ["m2/linear"] * 3


def test_an_unfetched_parent_defers_the_job(database: Database, family: MergeFamily) -> None:
    for repo_id in ("fam/base", "fam/ft-a"):
        ingest_folder(database, folder=family.root / repo_id, repo_id=repo_id)
    # m1/task-arith names fam/ft-d, not stored yet: a pending placeholder.
    report = ingest_folder(database, folder=family.root / "m1/task-arith", repo_id="m1/task-arith")
    assert report.jobs_queued == 1  # the edge to ft-a; the pair and ft-d's edge wait
    report = ingest_folder(database, folder=family.root / "fam/ft-d", repo_id="fam/ft-d")
    assert report.jobs_queued == 2  # ft-d's arrival plans its descendants


def test_is_common_ancestor(database: Database, family: MergeFamily, tmp_path: Path) -> None:
    _ingest(database, family)
    with database.session() as session:

        def ask(a: str, b: str, base: str) -> bool | None:
            return is_common_ancestor(session, a=a, b=b, base=base)

        assert ask("fam/ft-a", "fam/ft-b", "fam/base") is True
        assert ask("m1/ties", "m1/dare-ties", "fam/ft-b") is True
        assert ask("m3/linear", "m1/ties@main", "fam/base@abc") is True
        assert ask("fam/ft-a", "fam/ft-b", "other/base") is False
        assert ask("fam/ft-a", "other/ft-x", "fam/base") is False
        assert ask("fam/ft-a", "fam/ft-b", "fam/ft-a") is False  # not a strict ancestor
        assert ask("m1/ties", "m1/stock", "m1/ties") is False
        # The genealogy does not know: absent, local, or unresolved models.
        assert ask("fam/ft-a", "nobody/model", "fam/base") is None
        assert ask("fam/ft-a", "fam/ft-b", "nobody/base") is None
        assert ask(str(tmp_path), "fam/ft-b", "fam/base") is None
        assert ask("/etc/passwd", "fam/ft-b", "fam/base") is None
        # A parent not fetched yet: its ancestors are unknown, so "no" becomes "unknown".
        child = read_local_model(family.root / "fam/ft-c", repo_id="late/child").record
        edge = EdgeRecord(
            parent="late/parent", relation="finetune", role="parent", source="card_metadata"
        )
        upsert_model(session, replace(child, edges=[edge]))
        assert ask("late/child", "fam/ft-b", "fam/base") is None
        assert ask("late/child", "fam/ft-b", "other/base") is None


def test_unmeasurable_records_are_never_claimed_or_retried(
    database: Database, family: MergeFamily
) -> None:
    from kinhub.db.jobs.queue import claim_job, requeue_jobs

    _ingest(database, family)
    with database.session() as session:
        records = [j.id for j in session.exec(select(KinshipJob).where(KinshipJob.base == ""))]
        assert len(records) == len(UNMEASURABLE)
        assert requeue_jobs(session, ids=[r for r in records if r is not None], failed=True) == []
    claimed = []
    with database.write_transaction() as session:
        while (job := claim_job(session, owner="t", lease_s=60, max_attempts=3)) is not None:
            claimed.append(job)
    assert len(claimed) == len(PENDING) and all(job.base for job in claimed)


def test_a_renamed_parent_is_planned_under_its_new_id(
    database: Database, family: MergeFamily
) -> None:
    from kinhub.db.aliases import record_alias

    _ingest(database, family)
    with database.session() as session:
        # The Hub now answers for fam/ft-b as fam/ft-b-new; edges still name fam/ft-b.
        record = read_local_model(family.root / "fam/ft-b", repo_id="fam/ft-b-new").record
        upsert_model(session, record)
        record_alias(session, alias="fam/ft-b", repo_id="fam/ft-b-new")
        before = {j.job_key for j in session.exec(select(KinshipJob))}
        count = enqueue_for_models(session, ["fam/ft-b", "fam/ft-b-new"])
        fresh = [j for j in session.exec(select(KinshipJob)) if j.job_key not in before]
        assert is_common_ancestor(session, a="fam/ft-b", b="fam/ft-a", base="fam/base") is True
        assert is_common_ancestor(session, a="m1/ties", b="m1/dare-ties", base="fam/ft-b")
    renamed = {p[:4] for p in PENDING if "fam/ft-b" in p[1:4]}
    assert count.inserted == len(fresh) == len(renamed)
    assert {
        tuple(
            x if x != "fam/ft-b-new" else "fam/ft-b" for x in (j.kind, j.model_a, j.model_b, j.base)
        )
        for j in fresh
    } == renamed
    assert not [j for j in fresh if "fam/ft-b" in (j.model_a, j.model_b, j.base)]


def test_jobs_of_a_generated_hub_name_hub_repos_at_their_shas(
    database: Database, tmp_path: Path
) -> None:
    from kinhub.db.ids import is_repo_id
    from kinhub.db.models import Model
    from kinhub.sandbox.hub import generate_hub

    from tests.crawler.crawl_support import ingest_folders

    hub = generate_hub(tmp_path / "hub", n_models=150, seed=5, weights=False)
    ingest_folders(database, hub.root, [r for r in hub.ids() if (hub.root / r).is_dir()])
    with database.session() as session:
        count = enqueue_for_models(session, hub.ids())
        models = {m.repo_id: m for m in session.exec(select(Model))}
        jobs = list(session.exec(select(KinshipJob)))
        assert count.inserted == len([j for j in jobs if j.status == "pending"]) > 20
        for job in jobs:
            named = [job.model_a, job.model_b, *([job.base] if job.base else [])]
            for repo_id in named:
                assert is_repo_id(repo_id) and models[repo_id].status != "unresolved", job
            assert job.revision_a == models[job.model_a].sha
            assert job.revision_b == models[job.model_b].sha
            assert job.model_a < job.model_b
            if job.base and job.kind == "pair":
                # The anchor or the nearest common ancestor: a common ancestor either way
                # here (the generator's ingredients descend from the merge's anchor).
                known = is_common_ancestor(session, a=job.model_a, b=job.model_b, base=job.base)
                assert known is True, job
