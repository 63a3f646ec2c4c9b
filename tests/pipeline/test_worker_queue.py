"""The queue under the worker, on both backends: claiming order and exclusivity, leases,
retries with backoff, giving up, requeueing; the cache budget through huggingface_hub's
cache API.  Which failures are permanent: tests/kinship/test_job.py."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from kinhub.db.engine import Database, open_database
from kinhub.db.jobs.keys import JobTarget
from kinhub.db.jobs.queue import (
    claim_job,
    complete_job,
    fail_job,
    job_counts,
    lease_holders,
    list_jobs,
    release_job,
    renew_lease,
    repos_in_use,
    requeue_jobs,
)
from kinhub.db.timeutil import utcnow
from kinhub.hub.cache import cached_revisions, cached_weights, enforce_budget, parse_size
from kinhub.pipeline.worker import Worker, WorkerSettings

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import pair_targets, queue, write_family

MODELS = ["kin/ft00", "kin/ft01", "kin/ft02", "kin/ft03"]


def _claim(database: Database, owner: str, **kw: object):  # type: ignore[no-untyped-def]
    with database.write_transaction() as session:
        return claim_job(session, owner=owner, lease_s=kw.pop("lease_s", 60), max_attempts=3, **kw)  # type: ignore[arg-type]


def test_claims_follow_cached_repos_then_priority_and_never_repeat(database: Database) -> None:
    queue(
        database,
        [
            JobTarget(kind="pair", model_a="o/a", model_b="o/b", base="o/z", priority=5),
            JobTarget(kind="pair", model_a="o/c", model_b="o/d", base="o/z", priority=9),
            JobTarget(kind="pair", model_a="o/e", model_b="o/f", base="o/y", priority=1),
        ],
    )
    first = _claim(database, "w1")
    assert first is not None and first.model_a == "o/c"  # highest priority
    cached = _claim(database, "w2", prefer={"o/y", "o/e"})
    assert cached is not None and cached.model_a == "o/e"  # its base is on disk here
    last = _claim(database, "w1")
    assert last is not None and last.model_a == "o/a"
    assert _claim(database, "w2") is None
    assert len({first.id, cached.id, last.id}) == 3
    with database.session() as session:
        holders = {h.owner: h.jobs for h in lease_holders(session)}
        assert holders == {"w1": tuple(sorted((first.id, last.id))), "w2": (cached.id,)}
        assert repos_in_use(session) == {"o/a", "o/b", "o/c", "o/d", "o/z", "o/e", "o/f", "o/y"}


def test_an_expired_lease_is_claimable_and_its_holder_loses_the_job(database: Database) -> None:
    queue(database, [JobTarget(kind="edge", model_a="o/a", model_b="o/b", base="o/z")])
    old = _claim(database, "dead", lease_s=0.5)
    assert old is not None
    assert _claim(database, "w2", now=old.lease_until - timedelta(seconds=0.1)) is None
    while utcnow() <= old.lease_until:  # nobody renews it
        time.sleep(0.05)
    new = _claim(database, "alive")
    assert new is not None and new.id == old.id and new.attempts == 2
    with database.write_transaction() as session:
        assert not renew_lease(session, job_id=old.id, owner="dead", lease_s=60)
        assert fail_job(session, job_id=old.id, owner="dead", error="x", retry_at=None) is None
        assert not release_job(session, job_id=old.id, owner="dead")
        assert renew_lease(session, job_id=new.id, owner="alive", lease_s=60)
        assert complete_job(session, job_id=new.id, owner="alive", kinship_id=None, mode="exact")
    with database.session() as session:
        (job,) = list_jobs(session)
    assert (job.status, job.mode, job.lease_owner) == ("done", "exact", None)


def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(database: Database) -> None:
    queue(database, [JobTarget(kind="pair", model_a="o/a", model_b="o/b", base="o/z")])
    for _ in range(3):
        job = _claim(database, "doomed", lease_s=0.01)
        assert job is not None
        while utcnow() <= job.lease_until:
            time.sleep(0.01)
    assert _claim(database, "next") is None
    with database.session() as session:
        (job,) = list_jobs(session)
    assert job.status == "failed" and "lease expired 3 times" in (job.last_error or "")


def test_retry_backoff_then_give_up_then_requeue(database: Database) -> None:
    queue(database, [JobTarget(kind="pair", model_a="o/a", model_b="o/b", base="o/z")])
    job = _claim(database, "w")
    assert job is not None
    later = utcnow() + timedelta(hours=1)
    with database.write_transaction() as session:
        status = fail_job(session, job_id=job.id, owner="w", error="Hub down", retry_at=later)
    assert status == "pending"
    assert _claim(database, "w") is None  # not due yet
    with database.session() as session:
        (row,) = list_jobs(session)
        assert (row.status, row.last_error, row.attempts) == ("pending", "Hub down", 1)
    assert _claim(database, "w", now=later + timedelta(seconds=1)) is not None
    with database.write_transaction() as session:
        assert fail_job(session, job_id=job.id, owner="w", error="gone", retry_at=None) == "failed"
        assert job_counts(session)["failed"] == 1
        assert requeue_jobs(session, failed=True) == [job.id]
    with database.session() as session:
        (row,) = list_jobs(session)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)


def test_release_gives_the_attempt_back(database: Database) -> None:
    queue(database, [JobTarget(kind="pair", model_a="o/a", model_b="o/b", base="o/z")])
    job = _claim(database, "w")
    assert job is not None
    with database.write_transaction() as session:
        assert release_job(session, job_id=job.id, owner="w")
    again = _claim(database, "w")
    assert again is not None and again.attempts == 1


def test_cache_budget_deletes_least_recently_used_revisions_not_in_use(
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> None:
    root = tmp_path / "hub"
    write_family(root, n=3)
    cache = tmp_path / "cache"
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with hub_emulator(root) as emu:
            queue(database, pair_targets(["kin/ft00", "kin/ft01"], limit=1))
            settings = WorkerSettings(endpoint=emu.url, cache_dir=str(cache))
            assert Worker(database, settings).run(until_empty=True).done == 1
            time.sleep(0.05)  # the second job's repos are used later than kin/ft00
            queue(
                database,
                [JobTarget(kind="pair", model_a="kin/ft01", model_b="kin/ft02", base="kin/base")],
            )
            assert Worker(database, settings).run(until_empty=True).done == 1
        assert cached_weights(cache_dir=cache) == {"kin/base", "kin/ft00", "kin/ft01", "kin/ft02"}
        order = [r.repo_id for r in cached_revisions(cache_dir=cache)]
        assert order[0] == "kin/ft00"  # least recently used
        one = next(r.size for r in cached_revisions(cache_dir=cache) if r.repo_id == "kin/ft00")
        total = sum(r.size for r in cached_revisions(cache_dir=cache))

        kept = enforce_budget(total - 1, keep={"kin/ft00"}, cache_dir=cache)
        assert len(kept.deleted) == 1 and kept.kept_in_use == 1
        assert kept.deleted[0].repo_id != "kin/ft00"

        now = sum(r.size for r in cached_revisions(cache_dir=cache))
        report = enforce_budget(now - 1, cache_dir=cache)
        assert [r.repo_id for r in report.deleted] == ["kin/ft00"]
        assert report.size_after <= now - one
        assert "kin/ft00" not in cached_weights(cache_dir=cache)
        assert enforce_budget(10**12, cache_dir=cache).deleted == []
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("text", "size"),
    [("200GB", 200 * 10**9), ("1.5GiB", int(1.5 * 2**30)), ("500mb", 500 * 10**6), ("1024", 1024)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_worker_cache_budget_keeps_what_running_jobs_need(
    tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    root = tmp_path / "hub"
    write_family(root, n=4)
    cache = tmp_path / "cache"
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with hub_emulator(root) as emu:
            settings = WorkerSettings(endpoint=emu.url, cache_dir=str(cache))
            queue(
                database,
                [JobTarget(kind="pair", model_a="kin/ft02", model_b="kin/ft03", base="kin/base")],
            )
            assert Worker(database, settings).run(until_empty=True).done == 1
            held = JobTarget(
                kind="edge", model_a="kin/ft02", model_b="kin/ft03", base="kin/base", priority=10
            )
            mine = JobTarget(kind="pair", model_a="kin/ft00", model_b="kin/ft01", base="kin/base")
            queue(database, [held, mine])
            other = _claim(database, "elsewhere", lease_s=3600)  # computing on another machine
            assert other is not None and other.kind == "edge"
            settings.cache_budget = 1
            report = Worker(database, settings).run(until_empty=True)
        assert report.done == 1 and report.evicted_bytes > 0
        assert cached_weights(cache_dir=cache) == {"kin/base", "kin/ft02", "kin/ft03"}
    finally:
        database.dispose()
