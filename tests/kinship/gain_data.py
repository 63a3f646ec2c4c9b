"""A generated merge data set with a planted relation between kinship and merge gain.

Each merge ``merges/m-NN`` combines two ingredients against an anchor base, has
card evaluations on three benchmarks its ingredients also report (one ingredient
reports a fourth that must be ignored) and a stored pair kinship whose pcc drives
its gain: ``gain = slope · pcc + noise``.  Every number inserted is returned, so a
test can recompute the statistics independently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kinhub.db.engine import Database
from kinhub.db.models import Edge, Evaluation, Kinship, KinshipJob, Model
from sqlmodel import Session

SHARED = ("arc_challenge", "hellaswag", "mmlu")


@dataclass(frozen=True)
class Planted:
    child: str
    ingredients: tuple[str, str]
    base: str
    cs: float
    pcc: float
    ed: float
    scores: dict[str, dict[str, float]]  # model -> benchmark -> value (as inserted)


def add_model(session: Session, repo_id: str) -> int:
    row = Model(repo_id=repo_id)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def add_scores(session: Session, model_id: int, scores: dict[str, float]) -> None:
    for dataset, value in scores.items():
        session.add(
            Evaluation(
                model_id=model_id,
                task="text-generation",
                dataset=dataset,
                metric="acc",
                value=value,
            )
        )


def add_merge_edges(session: Session, child: int, ingredients: list[int], base: int | None) -> None:
    for parent in ingredients:
        session.add(
            Edge(
                child_id=child,
                parent_id=parent,
                relation="merge",
                role="ingredient",
                source="mergekit_config",
            )
        )
    if base is not None:
        session.add(
            Edge(
                child_id=child,
                parent_id=base,
                relation="merge",
                role="base",
                source="mergekit_config",
            )
        )


def add_kinship(
    session: Session,
    ids: dict[str, int],
    a: str,
    b: str,
    base: str,
    *,
    cs: float | None,
    pcc: float | None,
    ed: float | None,
    key: str,
    pair_job: bool = False,
) -> None:
    row = Kinship(
        pair_key=key,
        model_a=a,
        model_b=b,
        base=base,
        model_a_id=ids[a],
        model_b_id=ids[b],
        base_id=ids[base],
        cs=cs,
        pcc=pcc,
        ed=ed,
    )
    session.add(row)
    session.flush()
    if pair_job:
        session.add(
            KinshipJob(
                job_key=key,
                kind="pair",
                model_a=a,
                model_b=b,
                base=base,
                status="done",
                kinship_id=row.id,
            )
        )


def build_planted(
    database: Database, *, n: int = 40, slope: float = -6.0, noise: float = 0.8, seed: int = 3
) -> list[Planted]:
    """``n`` two-ingredient merges whose gain is ``slope · pcc`` plus Gaussian noise."""
    rng = random.Random(seed)
    planted: list[Planted] = []
    with database.session() as session:
        ids: dict[str, int] = {}
        for family in range(3):
            name = f"fam{family}/base"
            ids[name] = add_model(session, name)
        for i in range(n):
            base = f"fam{i % 3}/base"
            a, b, child = f"org/a-{i:02d}", f"org/b-{i:02d}", f"merges/m-{i:02d}"
            for name in (a, b, child):
                ids[name] = add_model(session, name)
            pcc = rng.uniform(0.3, 0.99)
            cs, ed = pcc + rng.gauss(0, 0.05), 20 * (1 - pcc) + rng.gauss(0, 0.5)
            gain = slope * pcc + rng.gauss(0, noise)
            scores = {
                a: {d: round(rng.uniform(40, 80), 3) for d in SHARED} | {"gsm8k": 10.0},
                b: {d: round(rng.uniform(40, 80), 3) for d in SHARED},
            }
            # The child's scores: the ingredients' mean per benchmark, shifted by the gain,
            # with a zero-sum spread so benchmarks differ.
            spread = (1.5, -0.5, -1.0)
            scores[child] = {
                d: (scores[a][d] + scores[b][d]) / 2 + gain + s
                for d, s in zip(SHARED, spread, strict=True)
            }
            for name in (a, b, child):
                add_scores(session, ids[name], scores[name])
            add_merge_edges(session, ids[child], [ids[a], ids[b]], ids[base])
            add_kinship(
                session, ids, a, b, base, cs=cs, pcc=pcc, ed=ed, key=f"pair-{i}", pair_job=True
            )
            if i % 5 == 0:
                # A newer row of the same pair not from a pair job: the job's result wins.
                add_kinship(session, ids, b, a, base, cs=0.0, pcc=0.0, ed=99.0, key=f"hand-{i}")
            planted.append(
                Planted(
                    child=child,
                    ingredients=(a, b),
                    base=base,
                    cs=cs,
                    pcc=pcc,
                    ed=ed,
                    scores=scores,
                )
            )
    return planted


def expected_gain(p: Planted) -> float:
    """Gain recomputed from the inserted scores over the shared benchmarks only."""
    child = sum(p.scores[p.child][d] for d in SHARED) / len(SHARED)
    parents = [sum(p.scores[m][d] for d in SHARED) / len(SHARED) for m in p.ingredients]
    return child - sum(parents) / len(parents)
