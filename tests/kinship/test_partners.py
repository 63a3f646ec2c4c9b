"""Merge partners on a crawled family with card evaluations (tests/kinship/partners_hub.py),
on SQLite and PostgreSQL: signatures, candidates, ranking, kinship obtained three ways."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kinhub.db.answers.guards import EmptyDatabaseError
from kinhub.db.answers.partners import partner_candidates
from kinhub.db.engine import Database, open_database
from kinhub.db.errors import ModelNotFoundError
from kinhub.db.models import ArchSignature, Kinship, KinshipJob
from kinhub.kinship.partners import (
    BALANCED_WEIGHT,
    ComputeOptions,
    ModelWithoutWeightsError,
    NoCompatibleCandidateError,
    UnknownChoiceError,
    license_warning,
    suggest_partners,
)
from kinhub.kinship.service import measure_kinship
from kinhub.kinship.signature import read_signature
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl
from tests.kinship.partners_hub import RHO, generate_partner_hub

FAMILY = {
    "m/low",
    "fam/ft-b",
    "fam/ft-c",
    "fam/ft-d",
    "fam/ft-nc",
    "fam/ft-vocab",
    "fam/ft-gated",
    "fam/ft-wide",
    "fam/noweights",
}


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_partner_hub(tmp_path_factory.mktemp("partners-hub"))


@dataclass
class Crawled:
    database: Database
    url: str
    endpoint: str
    cache: Path

    def options(self, compute: str = "sampled", **kw: object) -> ComputeOptions:
        return ComputeOptions(
            compute=compute,  # type: ignore[arg-type]
            endpoint=self.endpoint,
            cache_dir=str(self.cache),
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def crawled(
    database: Database,
    database_url: str,
    hub_root: Path,
    tmp_path: Path,
    hub_emulator: HubEmulators,
) -> Iterator[Crawled]:
    with hub_emulator(hub_root) as emu:
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        yield Crawled(database, database_url, emu.url, tmp_path / "weights")


# ---------------------------------------------------------------- signatures


def test_signature_from_headers_local_and_by_range(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    local = read_signature(str(hub_root / "fam/ft-a"))
    assert local.signature.source == "local"
    with hub_emulator(hub_root) as emu:
        remote = read_signature("fam/ft-a", endpoint=emu.url, cache_dir=str(tmp_path))
        vocab = read_signature("fam/ft-vocab", endpoint=emu.url)
        wide = read_signature("fam/ft-wide", endpoint=emu.url)
    assert remote.signature.source == "range"
    assert remote.revision is not None and len(remote.revision) == 40
    assert remote.signature.signature == local.signature.signature
    assert remote.signature.exact == local.signature.exact
    sig = remote.signature
    facts = (sig.model_type, sig.num_layers, sig.hidden_size, sig.vocab_size)
    assert facts == ("llama", 2, 32, 128)
    assert sig.dtype == "bfloat16"
    # Header reads only: nothing was downloaded into the cache.
    assert not list(tmp_path.rglob("*.safetensors"))
    assert sig.compatibility(vocab.signature) == "vocab"
    assert vocab.signature.vocab_size == 136
    assert sig.compatibility(wide.signature) == "incompatible"
    assert sig.compatibility(sig) == "same"


def test_signature_from_the_hf_cache(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        remote = read_signature("fam/ft-b", endpoint=emu.url)
        snapshot = tmp_path / "models--fam--ft-b" / "snapshots" / str(remote.revision)
        snapshot.mkdir(parents=True)
        for name in ("config.json", "model.safetensors"):
            (snapshot / name).write_bytes((hub_root / "fam/ft-b" / name).read_bytes())
    # The emulator is gone: only the cache can answer.
    cached = read_signature("fam/ft-b", revision=remote.revision, cache_dir=str(tmp_path))
    assert cached.signature.source == "cache"
    assert cached.signature.signature == remote.signature.signature


# ---------------------------------------------------------------- candidates (db query)


def test_candidates_share_an_ancestor(crawled: Crawled) -> None:
    with crawled.database.session() as session:
        query = partner_candidates(session, repo_id="fam/ft-a")
        by_id = {c.facts.repo_id: c for c in query.candidates}
        # Itself, its ancestor, its descendant (m/ties) and the unrelated family are out.
        assert set(by_id) == FAMILY
        assert {c.shared_base for c in query.candidates} == {"fam/base"}
        assert {c.facts.repo_id: c.hops for c in query.candidates} == {
            **dict.fromkeys(FAMILY, 2),
            "m/low": 3,  # fam/base → ft-b → m/low
        }
        assert by_id["fam/ft-b"].facts.eval_average == pytest.approx(70.0)
        assert by_id["fam/ft-gated"].facts.gated == "manual"
        merge = partner_candidates(session, repo_id="m/ties")
        names = {c.facts.repo_id for c in merge.candidates}
        assert names == FAMILY - {"fam/ft-b"}
        # The recipe's base_model is a parent of m/ties: one step up, one down.
        assert {c.hops for c in merge.candidates} == {2}
        # Nearest first, then the best evaluated: the limit keeps the head of that order.
        head = partner_candidates(session, repo_id="fam/ft-a", limit=2)
        assert [c.facts.repo_id for c in head.candidates] == ["fam/ft-wide", "fam/ft-b"]


# ---------------------------------------------------------------- ranking


def test_explore_lowest_kinship_among_the_strongest(crawled: Crawled) -> None:
    report = suggest_partners(
        crawled.database, model="fam/ft-a", top=10, options=crawled.options("sampled")
    )
    doc = report.to_json()
    ids = [c["id"] for c in doc["candidates"]]
    # Strongest three by evaluation (ft-b 70, ft-c 68, ft-nc 66), lowest kinship first;
    # then the others, the same way; the gated one (pending) last; never ft-wide.
    assert ids[:3] == ["fam/ft-c", "fam/ft-nc", "fam/ft-b"]
    assert set(ids[3:-1]) == {"fam/ft-d", "fam/ft-vocab", "m/low"}
    assert ids[-1] == "fam/ft-gated"
    values = {c["id"]: c["kinship"]["value"] for c in doc["candidates"]}
    rest = [values[i] for i in ids[3:-1]]
    assert rest == sorted(rest)
    for rid, rho in RHO.items():
        if rid != "fam/ft-a":
            assert values[rid] == pytest.approx(math.sqrt(0.8 * rho), abs=0.08)
    for c in doc["candidates"][:5]:
        k = c["kinship"]
        assert k["mode"] == "sampled" and k["base"] == "fam/base"
        assert k["interval"]["low"] <= k["value"] <= k["interval"]["high"]
        assert c["shared_base"] == "fam/base"
    gated = doc["candidates"][-1]
    assert gated["kinship"]["mode"] == "pending" and gated["kinship"]["value"] is None
    assert any("gated" in w for w in gated["warnings"])
    skipped = {s["id"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"fam/ft-wide", "fam/noweights"}
    assert "incompatible architecture" in skipped["fam/ft-wide"]
    with crawled.database.session() as session:
        stored = len(list(session.exec(select(Kinship))))
        assert stored == 6
        # MODEL and seven candidates; the gated one has none (it may be readable
        # later), the weightless one a row saying so (no need to look again).
        sigs = {row.model_id: row.source for row in session.exec(select(ArchSignature))}
        assert len(sigs) == 9
        assert sorted(sigs.values()).count("none") == 1
    # Asked again: every value comes from the database, nothing is measured.
    again = suggest_partners(
        crawled.database, model="fam/ft-a", top=10, options=crawled.options("sampled")
    )
    assert [c.id for c in again.candidates] == ids
    assert {s["id"]: s["reason"] for s in again.skipped}["fam/noweights"] == (
        "no weights: no readable safetensors weights at this revision"
    )
    assert all(c.kinship.stored for c in again.candidates if c.kinship.value is not None)
    with crawled.database.session() as session:
        assert len(list(session.exec(select(Kinship)))) == stored


def test_compute_none_queues_pending_jobs(crawled: Crawled) -> None:
    report = suggest_partners(
        crawled.database, model="fam/ft-a", top=3, options=crawled.options("none")
    )
    assert all(c.kinship.mode == "pending" for c in report.candidates)
    assert report.queued == 7
    with crawled.database.session() as session:
        jobs = list(session.exec(select(KinshipJob)))
    ours = [j for j in jobs if "fam/ft-a" in (j.model_a, j.model_b) and j.kind == "pair"]
    assert {j.base for j in ours} == {"fam/base"}
    assert {j.status for j in ours} == {"pending"}
    assert len(ours) == 7
    suggest_partners(crawled.database, model="fam/ft-a", top=3, options=crawled.options("none"))
    with crawled.database.session() as session:
        assert len(list(session.exec(select(KinshipJob)))) == len(jobs)  # idempotent


def test_stored_exact_kinship_is_used(crawled: Crawled) -> None:
    with crawled.database.session() as session:
        query = partner_candidates(session, repo_id="fam/ft-a")
    sha = {c.facts.repo_id: c.facts.sha for c in query.candidates}
    measured = measure_kinship(
        crawled.database,
        a=f"fam/ft-a@{query.model.sha}",
        b=f"fam/ft-c@{sha['fam/ft-c']}",
        base="fam/base",
        endpoint=crawled.endpoint,
        cache_dir=str(crawled.cache),
    )
    report = suggest_partners(
        crawled.database, model="fam/ft-a", top=10, options=crawled.options("none")
    )
    row = next(c for c in report.candidates if c.id == "fam/ft-c")
    assert row.kinship.mode == "exact"
    assert row.kinship.interval is None
    assert row.kinship.value == pytest.approx(measured.result.metrics["pcc"])
    assert row.kinship.base == "fam/base"


def test_warnings(crawled: Crawled) -> None:
    report = suggest_partners(
        crawled.database, model="fam/ft-a", top=10, options=crawled.options("none")
    )
    warnings = {c.id: c.warnings for c in report.candidates}
    assert any(w.startswith("license conflict") for w in warnings["fam/ft-nc"])
    assert any("vocabulary differs (128 vs 136" in w for w in warnings["fam/ft-vocab"])
    assert warnings["fam/ft-b"] == []
    compat = {c.id: c.compatibility for c in report.candidates}
    assert compat["fam/ft-vocab"] == "vocab" and compat["fam/ft-gated"] == "config"


def test_balanced_formula(crawled: Crawled) -> None:
    report = suggest_partners(
        crawled.database,
        model="fam/ft-a",
        top=10,
        strategy="balanced",
        options=crawled.options("sampled"),
    )
    rows = report.candidates
    evals = {r.id: r.eval_average for r in rows if r.eval_average is not None}
    kin = {r.id: r.kinship.value for r in rows if r.kinship.value is not None}

    def scaled(values: dict[str, float]) -> dict[str, float]:
        lo, hi = min(values.values()), max(values.values())
        return {k: (v - lo) / (hi - lo) for k, v in values.items()}

    e_hat, k_hat = scaled(evals), scaled(kin)  # type: ignore[arg-type]
    for r in rows:
        expected = e_hat.get(r.id, 0.0) - BALANCED_WEIGHT * k_hat.get(r.id, 0.5)
        assert r.score == pytest.approx(expected)
    measured = [r for r in rows if r.kinship.value is not None]
    assert [r.score for r in measured] == sorted((r.score for r in measured), reverse=True)  # type: ignore[type-var]
    assert rows[0].id == "fam/ft-c"  # strong and distant


# ---------------------------------------------------------------- bad input


def test_bad_input(crawled: Crawled, tmp_path: Path) -> None:
    db, opts = crawled.database, crawled.options("none")
    with pytest.raises(ModelNotFoundError):
        suggest_partners(db, model="nobody/nothing", options=opts)
    with pytest.raises(ModelWithoutWeightsError, match="no readable safetensors"):
        suggest_partners(db, model="fam/noweights", options=opts)
    with pytest.raises(NoCompatibleCandidateError, match="no other model shares an ancestor"):
        suggest_partners(db, model="other/base", options=opts)
    with pytest.raises(NoCompatibleCandidateError, match="none of the 1 models") as caught:
        suggest_partners(db, model="other/ft", options=opts)
    assert caught.value.skipped[0]["id"] == "other/ft-wide"
    with pytest.raises(UnknownChoiceError, match="known: pcc, cs, ed"):
        suggest_partners(db, model="fam/ft-a", metric="kl", options=opts)
    empty = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(EmptyDatabaseError):
            suggest_partners(empty, model="fam/ft-a", options=opts)
    finally:
        empty.dispose()


@pytest.mark.parametrize(
    ("mine", "other", "conflict"),
    [
        ("apache-2.0", "cc-by-nc-4.0", "license conflict"),
        ("cc-by-nc-4.0", "mit", "license conflict"),
        ("apache-2.0", "cc-by-nd-4.0", "forbids derivatives"),
        ("apache-2.0", "mit", None),
        ("cc-by-nc-4.0", "cc-by-nc-sa-4.0", None),
        ("apache-2.0", None, "unknown"),
    ],
)
def test_license_warning(mine: str, other: str | None, conflict: str | None) -> None:
    warning = license_warning("o/a", mine, "o/b", other)
    if conflict is None:
        assert warning is None
    else:
        assert warning is not None and conflict in warning
