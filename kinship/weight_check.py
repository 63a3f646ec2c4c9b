"""Weight-checked lineage: do a child's weights agree with the parents its card declares?

Judged from stored sketches (:mod:`kinhub.kinship.sketch`): the values of the child C,
its declared parents P₁…Pₖ and the edge's base Z at the same coordinates, each value
weighted by the slots its block stands for (the Horvitz–Thompson weights the sketch
kinship uses).  Changes are taken against the base: y = C − Z, xᵢ = Pᵢ − Z.

**Merge ingredients are judged together.**  A merge's change is a combination of its
ingredients' changes (linear, task arithmetic, SLERP, model stock: exactly; TIES, DARE,
DELLA, breadcrumbs: of sparsified copies, the rest of the child left at the base).  So:

1. the *support*: the coordinates where the child moved at all (y ≠ 0) — sparse
   methods leave the others at the base's value exactly;
2. ``r2``: the share of the child's change on its support explained by the best
   least-squares combination of the declared ingredients' changes;
3. ``null``: what the same fit explains for a model that is merely a *sibling* of the
   ingredients — a model whose change resembles each ingredient as much as the
   ingredients resemble each other (fine-tunes of one base share directions, so a
   sibling is explained in part by any set of its siblings).  With ingredient
   correlation matrix G and cᵢ the mean correlation of ingredient i with the others,
   ``null = cᵀ G⁻¹ c`` (0 for a single ingredient);
4. ``score = (r2 − null) / (1 − null)``: how much more than a sibling the declared
   ingredients explain.  ``contradicted`` below :data:`JOINT_THRESHOLD` (a sibling's
   score is 0 up to sampling noise), ``consistent`` from :data:`JOINT_CONSISTENT`, and
   ``unverified`` (inconclusive) in between — for every ingredient edge of the merge
   alike: a weak ingredient of a many-model merge is not singled out (its share is
   small by design).  The band is where the two kinds of evidence overlap: a very
   sparse merge of many near-identical siblings (DARE at density 0.1 of eight
   fine-tunes sharing 70% of their change scores ≈ 0.08: its random drops are noise
   the fit cannot explain), and a merge of *other* siblings than the ones declared
   (more central than any one sibling, it scores up to ≈ 0.24 when siblings share
   70%).

**Fine-tune edges** (child C declared a fine-tune of P): against P's own base Z,
``score`` is the share of P's change the child keeps (the regression coefficient of
y on x: a fine-tune of P starts from P and keeps ≈ all of it; a sibling keeps only
what siblings share); ``contradicted`` below :data:`RETAINED_THRESHOLD`.  Without a
base for P (P is a foundation), and for a merge's anchor base, ``score`` is the
relative distance ‖C − P‖ / ‖P‖: fine-tunes and merges move a model by a few percent,
another pretrained model of the same shape is ≈ 141% away; ``contradicted`` above
:data:`DISTANCE_THRESHOLD`.

The thresholds come from ``scripts/calibrate_weight_check.py`` (real mergekit merges of
every common method at extreme weights and densities, planted lies, siblings sharing
20–70% of their change); the figures are in docs/kinship.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

CONSISTENT = "consistent"
CONTRADICTED = "contradicted"
UNVERIFIED = "unverified"
VERDICTS = (CONSISTENT, CONTRADICTED, UNVERIFIED)

JOINT_THRESHOLD = 0.05
"""Merge ingredients: below this share of the child's change beyond what siblings of the
ingredients would explain, the declared ingredients are contradicted."""
JOINT_CONSISTENT = 0.2
"""Merge ingredients: from this score on they are consistent; in between, inconclusive."""
RETAINED_THRESHOLD = 0.8
"""Fine-tune edges: the least share of the parent's change the child must keep."""
DISTANCE_THRESHOLD = 0.5
"""Foundation parents and merge anchors: the largest relative distance ‖C − P‖/‖P‖."""
MIN_SUPPORT = 64
"""Fewer moved coordinates than this: the child is its base (nothing to judge)."""


@dataclass(frozen=True)
class Judgement:
    """The verdict on one edge and its evidence (stored, shown by lineage and show)."""

    verdict: str
    rule: str  # joint | retained | distance | none
    score: float | None = None
    threshold: float | None = None
    similarity: float | None = None  # weighted cosine of the child's and parent's changes
    coefficient: float | None = None  # the parent's coefficient in the joint fit
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule}
        for key in ("score", "threshold", "similarity", "coefficient", "reason"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update(self.details)
        return out


def unverified(reason: str) -> Judgement:
    return Judgement(verdict=UNVERIFIED, rule="none", reason=reason)


def _f(x: float) -> float:
    return round(float(x), 4)


def _cosine(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    den = float(np.sqrt((w * a * a).sum() * (w * b * b).sum()))
    return _f((w * a * b).sum() / den) if den > 0 else None


def judge_ingredients(
    weights: np.ndarray, child: np.ndarray, parents: list[np.ndarray], base: np.ndarray
) -> list[Judgement]:
    """One judgement per parent of a merge, judged together (see the module docstring).

    A parent identical to the base (no change of its own) is judged by distance, like
    an anchor; when no parent has a change, or the child has none, nothing is judged.
    """
    z = base.astype(np.float64)
    y = child.astype(np.float64) - z
    xs = [p.astype(np.float64) - z for p in parents]
    moved = [bool(np.any(x != 0)) for x in xs]
    support = y != 0
    out: list[Judgement | None] = [
        None if m else judge_distance(weights, child, p, rule_reason="the parent is the base")
        for m, p in zip(moved, parents, strict=True)
    ]
    judged = [i for i, m in enumerate(moved) if m]
    if not judged:
        return [j or unverified("no parent differs from the base") for j in out]
    if int(support.sum()) < MIN_SUPPORT:
        return [
            j or unverified("the child's sketch equals the base's: no change to explain")
            for j in out
        ]
    sw = np.sqrt(weights[support])
    ys = y[support] * sw
    xm = np.stack([xs[i][support] * sw for i in judged], axis=1)
    beta, *_ = np.linalg.lstsq(xm, ys, rcond=None)
    total = float(ys @ ys)
    r2 = 1.0 - float(((ys - xm @ beta) ** 2).sum()) / total
    norms = np.linalg.norm(xm, axis=0)
    k = len(judged)
    null = 0.0
    if k > 1 and np.all(norms > 0):
        gram = (xm.T @ xm) / np.outer(norms, norms)
        typical = (gram.sum(axis=1) - 1.0) / (k - 1)
        null = float(np.clip(typical @ np.linalg.lstsq(gram, typical, rcond=None)[0], 0, 0.999))
    score = (r2 - null) / (1.0 - null)
    verdict = (
        CONSISTENT
        if score >= JOINT_CONSISTENT
        else CONTRADICTED
        if score < JOINT_THRESHOLD
        else UNVERIFIED
    )
    details: dict[str, Any] = {
        "explained": _f(r2),
        "sibling_explained": _f(null),
        "parents_judged": k,
        "support": _f(weights[support].sum() / weights.sum()),
        "values": int(y.size),
        "consistent_from": JOINT_CONSISTENT,
    }
    reason = (
        "inconclusive: the declared parents explain the change only a little more than "
        "siblings of theirs would"
        if verdict == UNVERIFIED
        else None
    )
    for pos, i in enumerate(judged):
        out[i] = Judgement(
            verdict=verdict,
            rule="joint",
            score=_f(score),
            threshold=JOINT_THRESHOLD,
            similarity=_cosine(weights, y, xs[i]),
            coefficient=_f(beta[pos]),
            reason=reason,
            details=details,
        )
    return [j for j in out if j is not None]


def judge_finetune(
    weights: np.ndarray, child: np.ndarray, parent: np.ndarray, base: np.ndarray
) -> Judgement:
    """A fine-tune edge against the parent's own base: the share of the parent's change
    the child keeps."""
    z = base.astype(np.float64)
    y = child.astype(np.float64) - z
    x = parent.astype(np.float64) - z
    xx = float((weights * x * x).sum())
    if xx == 0:
        return judge_distance(weights, child, parent, rule_reason="the parent is its base")
    kept = float((weights * x * y).sum()) / xx
    return Judgement(
        verdict=CONSISTENT if kept >= RETAINED_THRESHOLD else CONTRADICTED,
        rule="retained",
        score=_f(kept),
        threshold=RETAINED_THRESHOLD,
        similarity=_cosine(weights, y, x),
        coefficient=_f(kept),
        details={"values": int(y.size)},
    )


def judge_distance(
    weights: np.ndarray, child: np.ndarray, parent: np.ndarray, *, rule_reason: str | None = None
) -> Judgement:
    """The relative distance ‖C − P‖/‖P‖ (a foundation parent, a merge's anchor)."""
    p = parent.astype(np.float64)
    d = child.astype(np.float64) - p
    norm = float(np.sqrt((weights * p * p).sum()))
    if norm == 0:
        return unverified("the parent's sketch is all zeros")
    dist = float(np.sqrt((weights * d * d).sum())) / norm
    details: dict[str, Any] = {"values": int(p.size)}
    if rule_reason:
        details["why"] = rule_reason
    return Judgement(
        verdict=CONSISTENT if dist <= DISTANCE_THRESHOLD else CONTRADICTED,
        rule="distance",
        score=_f(dist),
        threshold=DISTANCE_THRESHOLD,
        details=details,
    )
