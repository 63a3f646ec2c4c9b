"""enqueue: one row per job key, on both backends, whatever order or repetition."""

from __future__ import annotations

import threading

from kinhub.db.engine import Database
from kinhub.db.jobs.keys import EnqueueCount, JobTarget, enqueue, find_job
from kinhub.db.models import KinshipJob
from sqlmodel import select


def _t(a: str, b: str, **kw: object) -> JobTarget:
    return JobTarget(kind="pair", model_a=a, model_b=b, base="org/base", **kw)  # type: ignore[arg-type]


def test_enqueue_is_idempotent_and_canonical(database: Database) -> None:
    with database.session() as s:
        got = enqueue(
            s, [_t("org/b", "org/a", revision_a="2", revision_b="1"), _t("org/a", "org/b")]
        )
    assert got == EnqueueCount(inserted=2, existing=0)
    with database.session() as s:
        # (B, A) is the same job as (A, B); repeating a target inside one call counts once.
        again = enqueue(s, [_t("org/a", "org/b", revision_a="1", revision_b="2")] * 3)
    assert again == EnqueueCount(inserted=0, existing=1)
    with database.session() as s:
        rows = s.exec(select(KinshipJob).order_by(KinshipJob.id)).all()
        assert len(rows) == 2
        first = rows[0]
        assert (first.model_a, first.model_b, first.revision_a, first.revision_b) == (
            "org/a",
            "org/b",
            "1",
            "2",
        )
        assert first.status == "pending" and first.priority == 0


def test_enqueue_priority_and_child(database: Database) -> None:
    target = _t("org/x", "org/y", child="org/m", priority=7)
    with database.session() as s:
        assert enqueue(s, [target]).inserted == 1
        assert enqueue(s, [_t("org/x", "org/z")], priority=3).inserted == 1
    with database.session() as s:
        job = find_job(s, key=target.key)
        assert job is not None and job.child == "org/m" and job.priority == 7
        other = find_job(s, key=_t("org/x", "org/z").key)
        assert other is not None and other.priority == 3


def test_enqueue_many_crosses_chunks(database: Database) -> None:
    targets = [_t("org/a", f"org/m{i:04d}") for i in range(1203)]
    with database.session() as s:
        assert enqueue(s, targets) == EnqueueCount(inserted=1203, existing=0)
    with database.session() as s:
        assert enqueue(s, targets[::-1]) == EnqueueCount(inserted=0, existing=1203)


def test_concurrent_enqueues_insert_each_job_once(database: Database) -> None:
    """Two transactions queue the same jobs at once: the second waits for the first
    (PostgreSQL: the unique index; SQLite: the write lock) and then inserts nothing."""
    targets = [_t("org/a", f"org/c{i:03d}") for i in range(50)]
    results: list[EnqueueCount] = []
    with database.session() as first:
        results.append(enqueue(first, targets))  # uncommitted: holds the keys

        def second() -> None:
            with database.session() as other:
                results.append(enqueue(other, targets[::-1]))

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # it is blocked behind the first transaction
        assert thread.is_alive()
    thread.join()
    assert results == [EnqueueCount(inserted=50), EnqueueCount(existing=50)]
    with database.session() as s:
        assert len(s.exec(select(KinshipJob)).all()) == 50
