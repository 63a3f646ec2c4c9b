"""Kinship rows and job keys on SQLite and PostgreSQL: metrics add up, models link, NaN
is remembered, "lowest pcc for X" ranks, and job keys make NULL revisions unique."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from kinhub.db.engine import Database
from kinhub.db.jobs.keys import JobTarget, find_job, job_key
from kinhub.db.kinship_store import (
    find_kinship,
    in_key_order,
    kinship_key,
    lowest_kinship,
    save_kinship,
    stored_metrics,
)
from kinhub.db.models import KINSHIP_METRIC_COLUMNS, Kinship, KinshipJob, Model
from kinhub.db.store import get_model
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session


def _save(session: Session, key: str = "k" * 64, **kw: Any) -> Kinship:
    args: dict[str, Any] = {
        "a": "org/a",
        "b": "org/b@v1",
        "base": "org/base",
        "revisions": {"a": "1" * 40, "b": "2" * 40, "base": "3" * 40},
        "mode": "exact",
        "convention": "native",
        "metrics": {},
        "params_compared": 100,
        "bytes_read": 400,
        "seconds": 1.5,
    }
    args.update(kw)
    return save_kinship(session, key=key, **args)


def test_a_new_metric_adds_to_the_stored_measurement(database: Database) -> None:
    with database.session() as s:
        _save(s, metrics={"cs": 0.5, "layer_cs": {"0": 0.25}}, intervals={"cs": {"low": 0.4}})
    with database.session() as s:
        _save(s, metrics={"pcc": -0.125}, intervals={"pcc": {"low": -0.2}}, seconds=2.0)
    with database.session() as s:
        row = find_kinship(s, key="k" * 64)
        assert row is not None
        assert (row.cs, row.pcc, row.ed) == (0.5, -0.125, None)
        assert stored_metrics(row) == {"cs": 0.5, "pcc": -0.125, "layer_cs": {"0": 0.25}}
        assert set(row.intervals) == {"cs", "pcc"}
        assert row.seconds == 2.0  # costs describe the latest computation
    with database.session() as s:  # recomputing a metric replaces its value only
        _save(s, metrics={"cs": 0.75})
    with database.session() as s:
        row = find_kinship(s, key="k" * 64)
        assert row is not None and (row.cs, row.pcc) == (0.75, -0.125)


def test_nan_is_remembered_as_computed(database: Database) -> None:
    with database.session() as s:
        _save(s, metrics={"cs": math.nan, "ed": 0.0, "layer_cs": {"0": math.nan}})
    with database.session() as s:
        row = find_kinship(s, key="k" * 64)
        assert row is not None and row.cs is None and row.ed == 0.0
        got = stored_metrics(row)
        assert set(got) == {"cs", "ed", "layer_cs"} and math.isnan(got["cs"])
        assert row.extra == {"cs": None, "layer_cs": {"0": None}}
    with database.session() as s:  # a finite value later clears the NaN marker
        _save(s, metrics={"cs": 0.5})
    with database.session() as s:
        row = find_kinship(s, key="k" * 64)
        assert row is not None and row.cs == 0.5 and "cs" not in row.extra


def test_hub_references_link_model_rows(database: Database) -> None:
    with database.session() as s:
        s.add(Model(repo_id="org/a", sha="f" * 40))
    with database.session() as s:
        row = _save(s, metrics={"cs": 0.5})
        local = _save(s, key="l" * 64, a="/data/a", b="/data/b", base="org/base")
    with database.session() as s:
        a, b, base = (get_model(s, r) for r in ("org/a", "org/b", "org/base"))
        assert a is not None and a.status == "ok"  # existing row kept as it was
        assert b is not None and b.status == "pending"  # new Hub ids: pending, for the crawl
        assert base is not None and base.status == "pending"
        assert (row.model_a_id, row.model_b_id, row.base_id) == (a.id, b.id, base.id)
        # The plain repo id is stored; the revision read goes in its own column.
        assert (row.model_a, row.model_b, row.base) == ("org/a", "org/b", "org/base")
        assert (row.revision_a, row.revision_b) == ("1" * 40, "2" * 40)
        assert (local.model_a, local.model_b) == ("/data/a", "/data/b")
        assert (local.model_a_id, local.model_b_id, local.base_id) == (None, None, base.id)
        s.delete(b)
    with database.session() as s:  # deleting a model keeps the measurement, unlinked
        again = find_kinship(s, key="k" * 64)
        assert again is not None and again.model_b_id is None and again.cs == 0.5


def test_lowest_kinship_ranks_rows_involving_a_model(database: Database) -> None:
    with database.session() as s:
        for n, (a, b, pcc) in enumerate(
            [
                ("org/x", "org/p", 0.5),
                ("org/q", "org/x", -0.5),
                ("org/p", "org/q", -0.9),  # does not involve X
                ("org/x", "org/r", None),  # pcc never computed
                ("org/r", "org/x", 0.1),
            ]
        ):
            _save(s, key=f"{n:064x}", a=a, b=b, metrics={} if pcc is None else {"pcc": pcc})
    with database.session() as s:
        assert [k.pcc for k in lowest_kinship(s, repo_id="org/x")] == [-0.5, 0.1, 0.5]
        top = lowest_kinship(s, repo_id="org/x", descending=True, limit=1)
        assert [k.pcc for k in top] == [0.5]
        assert lowest_kinship(s, repo_id="org/nobody") == []
        with pytest.raises(ValueError, match="layer_cs"):
            lowest_kinship(s, repo_id="org/x", metric="layer_cs")


def test_without_a_revision_read_the_written_one_is_stored(database: Database) -> None:
    with database.session() as s:
        row = _save(s, revisions={})
        assert (row.model_b, row.revision_b) == ("org/b", "v1")
        assert (row.revision_a, row.revision_base) == (None, None)


SHA_A, SHA_B, SHA_Z = "a" * 40, "b" * 40, "c" * 40


def _key(a: str, b: str, base: str, fa: str | None, fb: str | None, **kw: Any) -> str:
    return kinship_key(
        a=a,
        b=b,
        base=base,
        fingerprints={"a": fa, "b": fb, "base": SHA_Z},
        mode=kw.get("mode", "exact"),
        convention="native",
    )


def test_the_key_is_the_repo_and_its_commit_however_the_revision_was_written() -> None:
    plain = _key("org/a", "org/b", "org/z", SHA_A, SHA_B)
    assert plain == _key(f"org/a@{SHA_A}", f"org/b@{SHA_B}", f"org/z@{SHA_Z}", SHA_A, SHA_B)
    assert plain == _key("org/a@main", "org/b@v1", "org/z", SHA_A, SHA_B)
    assert plain == _key("org/b", "org/a", "org/z", SHA_B, SHA_A)  # (B, A) is (A, B)
    assert plain != _key("org/a", "org/b", "org/z", SHA_B, SHA_A)  # other commits
    assert plain != _key("org/a", "org/b", "org/z", SHA_A, None)  # unresolved (offline)
    assert plain != _key("org/a", "org/c", "org/z", SHA_A, SHA_B)
    assert plain != _key("org/a", "org/b", "org/z", SHA_A, SHA_B, mode="sampled")


def test_key_order_is_by_repo_then_commit() -> None:
    assert in_key_order(a="org/a@zzz", b="org/b", fingerprints={"a": SHA_B, "b": SHA_A})
    assert not in_key_order(a="org/b", b="org/a@x", fingerprints={})
    assert in_key_order(a="org/a", b="org/a", fingerprints={"a": SHA_A, "b": SHA_B})
    assert not in_key_order(a="org/a", b="org/a", fingerprints={"a": SHA_B, "b": SHA_A})


def test_every_scalar_registry_metric_has_a_column() -> None:
    from kinhub.kinship import metrics as registry
    from kinhub.kinship.sums import Sums

    s = Sums()
    s.add(Sums(n=4, sa=1.0, sb=2.0, saa=3.0, sbb=5.0, sab=2.5, agree=3, both=4))
    inp = registry.MetricInput(total=s, per_tensor={}, entries=[])
    scalar = {name for name, m in registry.REGISTRY.items() if isinstance(m.compute(inp), float)}
    assert scalar == set(KINSHIP_METRIC_COLUMNS)


# --- job keys ------------------------------------------------------------------------


def test_job_key_is_canonical_and_covers_revisions() -> None:
    k = job_key(kind="pair", model_a="org/b", model_b="org/a", base="org/z")
    assert k == job_key(kind="pair", model_a="org/a", model_b="org/b", base="org/z")
    assert len(k) == 64
    assert k != job_key(kind="edge", model_a="org/a", model_b="org/b", base="org/z")
    assert k != job_key(
        kind="pair", model_a="org/a", model_b="org/b", base="org/z", revision_base="v2"
    )
    t = JobTarget.canonical(
        kind="pair", model_a="org/b", model_b="org/a", base="org/z", revision_a="rb"
    )
    assert (t.model_a, t.revision_a, t.model_b, t.revision_b) == ("org/a", None, "org/b", "rb")
    with pytest.raises(ValueError):
        job_key(kind="triple", model_a="org/a", model_b="org/b", base="org/z")


def _job(target: JobTarget) -> KinshipJob:
    return KinshipJob(
        job_key=target.key,
        kind=target.kind,
        model_a=target.model_a,
        model_b=target.model_b,
        base=target.base,
        revision_a=target.revision_a,
        revision_b=target.revision_b,
        revision_base=target.revision_base,
        next_attempt_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_the_same_job_with_null_revisions_is_refused_twice(database: Database) -> None:
    target = JobTarget.canonical(kind="pair", model_a="org/b", model_b="org/a", base="org/z")
    with database.session() as s:
        s.add(_job(target))
    with database.session() as s:
        job = find_job(s, key=target.key)
        assert job is not None and job.status == "pending" and job.priority == 0
    with pytest.raises(IntegrityError), database.session() as s:
        s.add(_job(target))
        s.flush()
