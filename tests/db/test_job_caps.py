"""One recipe never floods the queue; jobs name stored revisions only (issue 16)."""

from __future__ import annotations

from itertools import combinations

from kinhub.db.engine import Database
from kinhub.db.jobs.pairs import ingredient_weight, ranked_pairs
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.models import KinshipJob
from kinhub.db.records import EdgeRecord, ModelRecord
from kinhub.db.store import upsert_model
from sqlmodel import select

SHA = "a" * 40


def _ingredient(name: str, weight: float | None) -> EdgeRecord:
    parameters = {"weight": weight} if weight is not None else {}
    return EdgeRecord(
        parent=name,
        relation="merge",
        role="ingredient",
        source="mergekit_config",
        parameters=parameters,
    )


def _merge(database: Database, names: list[str], weights: list[float | None]) -> None:
    base = EdgeRecord(parent="org/base", relation="merge", role="base", source="mergekit_config")
    with database.session() as session:
        upsert_model(session, ModelRecord(repo_id="org/base", sha=SHA))
        for name in names:
            upsert_model(session, ModelRecord(repo_id=name, sha=SHA))
        edges = [base, *(_ingredient(n, w) for n, w in zip(names, weights, strict=True))]
        upsert_model(session, ModelRecord(repo_id="org/merge", sha=SHA, edges=edges))


def _jobs(database: Database) -> list[KinshipJob]:
    with database.session() as session:
        return list(session.exec(select(KinshipJob)))


def test_a_wide_recipe_queues_capped_pairs_and_one_edge_job_per_ingredient(
    database: Database,
) -> None:
    n = 30  # 435 pairs uncapped
    names = [f"org/i{i:02d}" for i in range(n)]
    weights: list[float | None] = [None if i % 7 == 0 else 1.0 - i / 100 for i in range(n)]
    _merge(database, names, weights)
    with database.session() as session:
        enqueue_for_models(session, ["org/merge"])
    jobs = _jobs(database)
    pairs = {(j.model_a, j.model_b) for j in jobs if j.kind == "pair"}
    edges = [j.model_a if j.model_b == "org/merge" else j.model_b for j in jobs if j.kind == "edge"]
    assert len(pairs) == 100
    assert sorted(edges) == names  # exactly one edge job per ingredient
    # The heaviest ingredients' pairs first: the 14 heaviest give 91 pairs.
    ranked = sorted((w is None, -(w or 0.0), name) for name, w in zip(names, weights, strict=True))
    top = sorted(name for _, _, name in ranked[:14])
    assert set(combinations(top, 2)) <= pairs
    lightest = ranked[-1][2]
    assert not any(lightest in pair for pair in pairs)


def test_the_pair_cap_is_configurable(database: Database) -> None:
    names = [f"org/i{i:02d}" for i in range(6)]
    _merge(database, names, [0.1, 0.9, 0.5, 0.5, None, 0.2])
    with database.session() as session:
        enqueue_for_models(session, ["org/merge"], max_pair_jobs=3)
    pairs = {(j.model_a, j.model_b) for j in _jobs(database) if j.kind == "pair"}
    # Ranking: i01 (0.9), i02 and i03 (0.5, by name), i05 (0.2), i00 (0.1), i04 (none).
    assert pairs == {("org/i01", "org/i02"), ("org/i01", "org/i03"), ("org/i02", "org/i03")}


def test_ranked_pairs_is_lazy_and_weights_are_read() -> None:
    ranking = [(1.0, f"m{i}") for i in range(2000)]
    assert len(list(ranked_pairs(ranking, 100))) == 100
    assert ingredient_weight({"weight": [0.2, 0.4]}) == 0.30000000000000004
    assert ingredient_weight({"weight": [{"filter": "mlp", "value": 1}, {"value": 0}]}) == 0.5
    assert ingredient_weight({"weight": "x"}) is None and ingredient_weight(None) is None


def test_jobs_are_planned_from_stored_revisions_only(database: Database) -> None:
    names = ["org/ok", "org/failed", "org/gated"]
    _merge(database, names, [0.5, 0.5, 0.5])
    with database.session() as session:
        # A crawl that failed midway: one ingredient's fetch failed, one is gated.
        upsert_model(session, ModelRecord(repo_id="org/failed", sha=None, status="error"))
        upsert_model(session, ModelRecord(repo_id="org/gated", sha=None, status="gated"))
    with database.session() as session:
        enqueue_for_models(session, ["org/merge", *names])
    jobs = _jobs(database)
    pending = [j for j in jobs if j.status == "pending"]
    assert pending, "the readable ingredient still gets its job"
    assert all(j.revision_a and j.revision_b and j.revision_base for j in pending)
    assert not any("org/failed" in (j.model_a, j.model_b) for j in jobs)
    failed = [j for j in jobs if j.status == "failed"]
    assert failed and all("org/gated is gated" in (j.last_error or "") for j in failed)
