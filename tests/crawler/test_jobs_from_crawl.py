"""A crawl queues exactly the kinship jobs the planning rule (db/jobs/plan.py) describes.

The family (sandbox/families.py) has SLERP (written with ``slices:`` and
with ``models:``), linear, TIES, DARE-TIES, task arithmetic, Model Stock,
passthrough and MoE merges over three generations, a merge across unrelated
families and two cards naming local paths and URLs.  The jobs are listed here by
hand from the rule.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import ANCHOR_NOT_HUB, NO_COMMON_ANCESTOR
from kinhub.db.models import KinshipJob, Model
from kinhub.sandbox.families import HOSTILE_REFS, MergeFamily, generate_merge_family
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

BASE, FT_A, FT_B, FT_C, FT_D = "fam/base", "fam/ft-a", "fam/ft-b", "fam/ft-c", "fam/ft-d"

# (kind, model_a, model_b, base, child): A < B; the child is the busiest merge that
# calls for the job (its downloads are the priority).
PENDING = {
    # TIES, Model Stock and the hostile card's linear merge share their pairs.
    ("pair", FT_A, FT_B, BASE, "m1/ties"),
    ("pair", FT_A, FT_C, BASE, "m1/ties"),
    ("pair", FT_B, FT_C, BASE, "m1/ties"),
    ("edge", FT_A, "m1/ties", BASE, "m1/ties"),
    ("edge", FT_B, "m1/ties", BASE, "m1/ties"),
    ("edge", FT_C, "m1/ties", BASE, "m1/ties"),
    ("pair", FT_B, FT_D, BASE, "m1/dare-ties"),
    ("edge", FT_B, "m1/dare-ties", BASE, "m1/dare-ties"),
    ("edge", FT_D, "m1/dare-ties", BASE, "m1/dare-ties"),
    ("pair", FT_A, FT_D, BASE, "m1/task-arith"),
    ("edge", FT_A, "m1/task-arith", BASE, "m1/task-arith"),
    ("edge", FT_D, "m1/task-arith", BASE, "m1/task-arith"),
    ("edge", FT_A, "m1/stock", BASE, "m1/stock"),
    ("edge", FT_B, "m1/stock", BASE, "m1/stock"),
    ("edge", FT_C, "m1/stock", BASE, "m1/stock"),
    # m1/frankenmerge (passthrough slices) and m1/moe (experts): no jobs.
    # SLERP with slices: both endpoints are ingredients; no anchor, so the lowest
    # common ancestor of m1/ties and m1/dare-ties: fam/ft-b (fam/base is its parent).
    ("pair", "m1/dare-ties", "m1/ties", FT_B, "m2/slerp-slices"),
    ("edge", "m1/dare-ties", "m2/slerp-slices", FT_B, "m2/slerp-slices"),
    ("edge", "m1/ties", "m2/slerp-slices", FT_B, "m2/slerp-slices"),
    # SLERP with models:, and linear: the common ancestor is the foundation.
    ("pair", FT_D, "m1/stock", BASE, "m2/slerp-models"),
    ("edge", FT_D, "m2/slerp-models", BASE, "m2/slerp-models"),
    ("edge", "m1/stock", "m2/slerp-models", BASE, "m2/slerp-models"),
    ("pair", FT_C, "m1/task-arith", BASE, "m2/linear"),
    ("edge", FT_C, "m2/linear", BASE, "m2/linear"),
    ("edge", "m1/task-arith", "m2/linear", BASE, "m2/linear"),
    # Only the two Hub models of the hostile card.
    ("edge", FT_A, "m2/hostile", BASE, "m2/hostile"),
    ("edge", FT_B, "m2/hostile", BASE, "m2/hostile"),
    ("pair", "m2/linear", "m2/slerp-slices", BASE, "m3/task-arith"),
    ("edge", "m2/linear", "m3/task-arith", BASE, "m3/task-arith"),
    ("edge", "m2/slerp-slices", "m3/task-arith", BASE, "m3/task-arith"),
    # Lowest common ancestors of the two SLERPs: fam/ft-a…d; ft-d is fewest hops (1 + 2).
    ("pair", "m2/slerp-models", "m2/slerp-slices", FT_D, "m3/linear"),
    ("edge", "m2/slerp-models", "m3/linear", FT_D, "m3/linear"),
    ("edge", "m2/slerp-slices", "m3/linear", FT_D, "m3/linear"),
}
# (kind, model_a, model_b, reason): recorded as failed jobs with an empty base.
UNMEASURABLE = {
    ("pair", FT_A, "other/ft-x", NO_COMMON_ANCESTOR),
    ("edge", FT_A, "m2/mixed", NO_COMMON_ANCESTOR),
    ("edge", "m2/mixed", "other/ft-x", NO_COMMON_ANCESTOR),
    ("pair", FT_C, FT_D, ANCHOR_NOT_HUB),
    ("edge", FT_C, "m2/hostile-base", ANCHOR_NOT_HUB),
    ("edge", FT_D, "m2/hostile-base", ANCHOR_NOT_HUB),
}


@pytest.fixture
def family(tmp_path: Path) -> MergeFamily:
    return generate_merge_family(tmp_path / "hub", weights=False)


def _jobs(database: Database) -> list[KinshipJob]:
    with database.session() as session:
        return list(session.exec(select(KinshipJob)))


def _models(database: Database) -> dict[str, Model]:
    with database.session() as session:
        return {m.repo_id: m for m in session.exec(select(Model))}


def _pending(jobs: list[KinshipJob]) -> set[tuple[str, ...]]:
    return {
        (j.kind, j.model_a, j.model_b, j.base, j.child or "") for j in jobs if j.status == "pending"
    }


def _failed(jobs: list[KinshipJob]) -> set[tuple[str, ...]]:
    return {(j.kind, j.model_a, j.model_b, j.last_error or "") for j in jobs if j.base == ""}


def _touch(family: MergeFamily, repo_id: str) -> None:
    """A new commit of ``repo_id``: other card text, a later lastModified."""
    folder = family.root / repo_id
    readme = folder / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nRetrained.\n", encoding="utf-8")
    hub: dict[str, Any] = json.loads((folder / ".hub.json").read_text(encoding="utf-8"))
    hub["lastModified"] = "2025-06-01T00:00:00.000Z"
    (folder / ".hub.json").write_text(json.dumps(hub), encoding="utf-8")


def test_crawl_queues_the_rules_jobs_once_and_again_after_a_new_sha(
    database: Database, family: MergeFamily, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(family.root) as emu:
        # Small pages: children are listed (newest first) before their parents, so
        # their jobs wait for the parents' shas and are planned when those arrive.
        first = run_crawl(database, emu.url, tmp_path / "c1", scope="full", page_size=4)
        jobs = _jobs(database)
        models = _models(database)
        assert _pending(jobs) == PENDING
        assert _failed(jobs) == UNMEASURABLE
        assert first.counts["jobs_queued"] == len(PENDING)
        for job in jobs:
            assert job.revision_a == models[job.model_a].sha is not None
            assert job.revision_b == models[job.model_b].sha is not None
            if job.base:
                assert job.revision_base == models[job.base].sha is not None
                assert job.priority == models[job.child or ""].downloads
            assert job.status in ("pending", "failed") and job.attempts == 0

        # Hostile references are unresolved nodes that no job names.
        for ref in HOSTILE_REFS:
            assert models[ref].status == "unresolved", ref
        named = {v for j in jobs for v in (j.model_a, j.model_b, j.base, j.child)}
        assert not named & set(HOSTILE_REFS)
        assert not any(ref in (j.last_error or "") for j in jobs for ref in HOSTILE_REFS)

        # Nothing changed: nothing queued, nothing rewritten.
        second = run_crawl(database, emu.url, tmp_path / "c2", scope="full", page_size=4)
        assert second.counts["jobs_queued"] == 0
        again = _jobs(database)
        assert {(j.job_key, j.status, j.updated_at) for j in again} == {
            (j.job_key, j.status, j.updated_at) for j in jobs
        }

        # A new sha of fam/ft-d: every job naming it is due again, under a new key.
        old_sha = models[FT_D].sha
        _touch(family, FT_D)
        emu.reload()
        third = run_crawl(database, emu.url, tmp_path / "c3", scope="full", page_size=4)
    new_sha = _models(database)[FT_D].sha
    assert new_sha != old_sha
    old_keys = {j.job_key for j in jobs}
    fresh = [j for j in _jobs(database) if j.job_key not in old_keys]
    naming_d = {p for p in PENDING if FT_D in p[1:4]}
    assert len(naming_d) == 9
    assert _pending(fresh) == naming_d
    assert third.counts["jobs_queued"] == len(naming_d)
    for job in fresh:
        slots = [
            (job.model_a, job.revision_a),
            (job.model_b, job.revision_b),
            (job.base, job.revision_base),
        ]
        assert (FT_D, new_sha) in slots
        assert (FT_D, old_sha) not in slots
    # The unmeasurable pairs naming ft-d are recorded at its new sha, once.
    failed = [j for j in _jobs(database) if j.base == ""]
    assert _failed(failed) == UNMEASURABLE
    assert len(failed) == len(UNMEASURABLE)
