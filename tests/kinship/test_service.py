"""The kinship service on real weights and both databases: cache, adding metrics,
original time and cost on cached answers, the row hook's transaction, reference checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from kinhub.db.engine import Database
from kinhub.db.errors import InvalidRepoIdError
from kinhub.db.kinship_store import stored_metrics
from kinhub.db.models import Kinship, KinshipJob
from kinhub.hub.shared import shared_client
from kinhub.kinship.engine import compute_kinship, fingerprint
from kinhub.kinship.errors import ModelSourceError
from kinhub.kinship.service import (
    SampleFractionError,
    check_reference,
    looks_local,
    measure_kinship,
)
from kinhub.sandbox.families import Family
from sqlalchemy import func, select
from sqlmodel import Session

from tests.conftest import HubEmulators
from tests.kinship.worker_hub import write_family


def _refs(fam: Family) -> dict[str, str]:
    return {"a": str(fam["ft1"]), "b": str(fam["ft3"]), "base": str(fam["base"])}


def _rows(database: Database) -> list[Kinship]:
    with database.session() as s:
        return list(s.execute(select(Kinship)).scalars())


def test_asking_for_pcc_after_cs_keeps_cs(families: dict[str, Family], database: Database) -> None:
    refs = _refs(families["fp32-single"])
    cs = measure_kinship(database, **refs, metrics=["cs"])
    pcc = measure_kinship(database, **refs, metrics=["pcc"])
    assert (cs.cached, pcc.cached) == (False, False)
    assert set(pcc.result.metrics) == {"pcc"} and pcc.result.bytes_read > 0
    (row,) = _rows(database)
    assert set(stored_metrics(row)) == {"cs", "pcc"}
    both = measure_kinship(database, **refs, metrics=["pcc", "cs"])
    assert both.cached and both.result.bytes_read == 0
    assert both.result.metrics == {"pcc": pcc.result.metrics["pcc"], "cs": cs.result.metrics["cs"]}
    # Only the missing metric is computed; the answer still lists all asked, in order.
    more = measure_kinship(database, **refs, metrics=["ed", "cs"])
    assert not more.cached and list(more.result.metrics) == ["ed", "cs"]
    assert more.result.metrics["cs"] == cs.result.metrics["cs"]


def test_cached_answer_keeps_the_original_time_and_cost(
    families: dict[str, Family], database: Database
) -> None:
    refs = _refs(families["bf16-tied"])
    first = measure_kinship(database, **refs)
    again = measure_kinship(database, **refs)
    assert again.cached and not first.cached
    assert again.computed_at == first.computed_at
    assert again.to_dict()["computed_at"] == first.to_dict()["computed_at"]
    assert again.result.seconds == first.result.seconds > 0
    assert again.result.bytes_read == 0 and first.result.bytes_read > 0
    assert again.kinship_id == first.kinship_id is not None


def test_per_tensor_breakdown_is_computed_when_not_stored(
    families: dict[str, Family], database: Database
) -> None:
    refs = _refs(families["fp32-single"])
    measure_kinship(database, **refs)
    detail = measure_kinship(database, **refs, per_tensor=True)
    assert not detail.cached and detail.result.breakdown
    assert measure_kinship(database, **refs, per_tensor=True).cached
    # A cached answer shows the stored breakdown only when asked for.
    assert measure_kinship(database, **refs).result.breakdown == {}


def test_row_hook_commits_with_the_result(families: dict[str, Family], database: Database) -> None:
    refs = _refs(families["fp32-single"])

    def refuse(session: Session, row: Kinship) -> None:
        raise RuntimeError("worker lost its lease")

    with pytest.raises(RuntimeError):
        measure_kinship(database, **refs, on_row=refuse)
    assert _rows(database) == []  # the result rolled back with the hook

    def finish(session: Session, row: Kinship) -> None:
        session.add(
            KinshipJob(
                job_key="j" * 64,
                model_a="x",
                model_b="y",
                base="z",
                status="done",
                kinship_id=row.id,
            )
        )

    m = measure_kinship(database, **refs, on_row=finish)
    with database.session() as s:
        job = s.execute(select(KinshipJob)).scalar_one()
    assert job.kinship_id == m.kinship_id is not None


def test_either_order_is_one_row_answered_in_the_order_asked(
    families: dict[str, Family], database: Database
) -> None:
    fam = families["fp32-single"]
    first, second, base = str(fam["ft1"]), str(fam["ft3"]), str(fam["base"])
    names = ["cs", "ratio", "pcc"]
    # Asked in the order opposite to the key's: computed in key order, answered as asked.
    back = measure_kinship(database, a=second, b=first, base=base, metrics=names)
    direct = compute_kinship(second, first, base, metrics=names)
    assert not back.cached and (back.result.a, back.result.b) == (second, first)
    for name in names:  # ratio = |d_A|/|d_B| is not symmetric: it follows the order
        assert back.result.metrics[name] == pytest.approx(direct.metrics[name], rel=1e-12)
    forth = measure_kinship(database, a=first, b=second, base=base, metrics=names)
    assert forth.cached and (forth.result.a, forth.result.b) == (first, second)
    assert forth.kinship_id == back.kinship_id
    assert forth.result.metrics["ratio"] == pytest.approx(1 / back.result.metrics["ratio"])
    assert forth.result.metrics["ratio"] != pytest.approx(back.result.metrics["ratio"])
    assert forth.result.metrics["cs"] == back.result.metrics["cs"]
    again = measure_kinship(database, a=second, b=first, base=base, metrics=names)
    assert again.cached and again.result.metrics == back.result.metrics
    (row,) = _rows(database)
    assert (row.model_a, row.model_b) == (first, second)  # stored in key order


def test_a_full_commit_sha_is_its_own_fingerprint(
    tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    write_family(tmp_path, n=1)
    with hub_emulator(tmp_path) as emu:
        sha = shared_client(emu.url).model_info("kin/ft00").sha
        assert sha is not None and len(sha) == 40
        emu.reset_stats()
        assert fingerprint(f"kin/ft00@{sha}", endpoint=emu.url) == sha
        assert sum(emu.stats()["requests"].values()) == 0  # the Hub was not asked
        assert fingerprint("kin/ft00", endpoint=emu.url) == sha  # a branch is resolved
        assert fingerprint("kin/ft00@main", endpoint=emu.url) == sha
        assert sum(emu.stats()["requests"].values()) > 0


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5, math.nan])
def test_sample_fraction_outside_zero_one_is_refused(
    families: dict[str, Family], database: Database, fraction: float
) -> None:
    with pytest.raises(SampleFractionError, match=r"\(0, 1\]"):
        measure_kinship(database, **_refs(families["fp32-single"]), sample=fraction)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Kinship)) == 0


@pytest.mark.parametrize(
    ("ref", "local"),
    [
        ("./typo", True),
        ("../x", True),
        ("/abs/model", True),
        ("~/models/x", True),
        (".", True),
        ("a/b/c", True),
        ("org\\name", True),
        ("org/name", False),
        ("org/name@refs/pr/1", False),
        ("gpt2", False),
    ],
)
def test_looks_local(ref: str, local: bool) -> None:
    assert looks_local(ref) is local


def test_check_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert check_reference("./model") == str((tmp_path / "model").resolve())
    assert check_reference("org/name@v1") == "org/name@v1"
    with pytest.raises(ModelSourceError, match="folder does not exist"):
        check_reference("./typo")
    with pytest.raises(ModelSourceError, match="not a model folder"):
        check_reference("./file.txt")
    with pytest.raises(InvalidRepoIdError):
        check_reference("not a repo")
