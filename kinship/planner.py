"""The paper's Top-k greedy merging with kinship-guided exploration, as a planner.

Hu et al. (2024) merge, generation after generation, every pair of the current top-k
models (by evaluation average), add the results to the pool and repeat; greedy
merging plateaus as the top models grow alike, and adding the best model merged with
its *lowest-kinship* partner escapes the plateau.  kinhub plans; merging and
evaluating stay with mergekit and lm-evaluation-harness, and the next crawl brings
the results (with their card evaluations) back.  :func:`plan_merges`:

1. ranks the pool by card-evaluation average and takes the top ``k`` (models without
   evaluations, without readable weights, or outside the largest group of models with
   one architecture are left out, with a note);
2. measures (or reads, or queues) the kinship of every top-k pair against the pair's
   nearest common ancestor, and stops when their mean passes ``threshold`` (the top
   models have converged: greedy merging gains nothing more);
3. proposes the next generation: every compatible pair of the top k, plus the best
   model with its lowest-kinship compatible partner outside the top k (exploration);
4. looks for the proposed merges in the database (a model with a merge edge to both):
   those found with evaluations join the pool and the next generation is planned, up
   to ``generations``; stops when the top-k set stops changing, or when a generation
   has not been made yet (the configs of that generation are the answer).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from kinhub.db.answers.guards import require_models
from kinhub.db.answers.partners import (
    ModelFacts,
    facts_by_id,
    merge_children,
    model_facts,
    shared_base,
    stored_kinship,
)
from kinhub.db.engine import Database
from kinhub.db.errors import ModelNotFoundError
from kinhub.db.signatures import Signature
from kinhub.kinship.names import DEFAULT_PARTNER_METRIC
from kinhub.kinship.partners import (
    METRICS,
    ComputeOptions,
    KinshipValue,
    PartnerError,
    check_choice,
    obtain_kinship,
    relatedness,
)
from kinhub.kinship.signature import ensure_signatures

logger = logging.getLogger(__name__)


class PlanPoolError(PartnerError):
    """The pool cannot be planned: too few models with evaluations and weights."""


@dataclass
class ProposedMerge:
    """One merge the planner proposes."""

    generation: int
    kind: str  # top-k | explore
    models: list[str]
    shared_base: str | None
    kinship: KinshipValue | None
    dtypes: dict[str, str | None] = field(default_factory=dict)
    vocab_sizes: dict[str, int | None] = field(default_factory=dict)
    made_as: list[str] = field(default_factory=list)  # models in the database that realize it
    config: str | None = None  # file the CLI wrote, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "kind": self.kind,
            "models": list(self.models),
            "shared_base": self.shared_base,
            "kinship": self.kinship.to_json() if self.kinship else None,
            "made_as": list(self.made_as),
            "config": self.config,
        }


@dataclass
class Generation:
    number: int
    top_k: list[dict[str, Any]]  # {"id", "eval_average"}
    top_kinship: float | None  # mean kinship of the top-k pairs that have a value
    merges: list[ProposedMerge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.number,
            "top_k": self.top_k,
            "top_kinship": self.top_kinship,
            "merges": [m.to_json() for m in self.merges],
        }


@dataclass
class MergePlan:
    pool: list[str]
    k: int
    threshold: float
    metric: str
    generations: list[Generation]
    stop_reason: str
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def proposals(self) -> list[ProposedMerge]:
        """The merges still to be made (not found in the database)."""
        return [m for g in self.generations for m in g.merges if not m.made_as]

    def to_json(self) -> dict[str, Any]:
        return {
            "pool": list(self.pool),
            "k": self.k,
            "threshold": self.threshold,
            "metric": self.metric,
            "generations": [g.to_json() for g in self.generations],
            "stop_reason": self.stop_reason,
            "skipped": list(self.skipped),
        }


class _Pool:
    """Models, their facts and signatures, and the kinship measured so far."""

    def __init__(self, database: Database, options: ComputeOptions, metric: str) -> None:
        self.database = database
        self.options = options
        self.metric = metric
        self.facts: dict[str, ModelFacts] = {}
        self.signatures: dict[str, Signature] = {}
        self.kinship: dict[frozenset[str], tuple[str | None, KinshipValue | None]] = {}
        self.measured = 0

    def add(self, repo_ids: list[str], skipped: list[dict[str, str]]) -> list[str]:
        """Load facts and signatures; returns the ids usable for planning."""
        with self.database.session() as session:
            found = model_facts(session, repo_ids)
        # Only models with evaluations can be ranked: read no weights for the others
        # (on a hub that cannot be reached, every read is a round of retries).
        sigs, failures = ensure_signatures(
            self.database,
            [r for r in repo_ids if r in found and found[r].eval_average is not None],
            endpoint=self.options.endpoint,
            cache_dir=self.options.cache_dir,
        )
        usable = []
        for rid in repo_ids:
            facts = found[rid]
            if facts.eval_average is None:
                skipped.append({"id": rid, "reason": "no card evaluations"})
            elif rid not in sigs:
                skipped.append({"id": rid, "reason": f"no weights: {failures[rid].reason}"})
            else:
                self.facts[rid] = facts
                self.signatures[rid] = sigs[rid]
                usable.append(rid)
        return usable

    def compatible(self, a: str, b: str) -> bool:
        return self.signatures[a].compatibility(self.signatures[b]) != "incompatible"

    def pair(self, a: str, b: str) -> tuple[str | None, KinshipValue | None]:
        """(shared base, kinship) of two pool models; kinship None without a shared base."""
        key = frozenset((a, b))
        if key in self.kinship:
            return self.kinship[key]
        fa, fb = self.facts[a], self.facts[b]
        with self.database.session() as session:
            base_id = shared_base(session, fa.id, fb.id)
            stored = stored_kinship(session, fa.id, [fb.id]).get(fb.id, [])
            base_facts = facts_by_id(session, [base_id]) if base_id is not None else {}
        if base_id is None or base_id not in base_facts:
            self.kinship[key] = (None, None)
            return self.kinship[key]
        base = base_facts[base_id]
        value, _queued = obtain_kinship(
            self.database,
            model=fa,
            other=fb,
            base=base,
            metric=self.metric,
            stored=stored,
            options=self.options,
            allow_measure=self.measured < self.options.measure_limit,
        )
        if not value.stored and value.mode in ("exact", "sampled", "failed"):
            self.measured += 1
        self.kinship[key] = (base.repo_id, value)
        return self.kinship[key]


def plan_merges(
    database: Database,
    *,
    pool: list[str],
    k: int = 3,
    generations: int = 1,
    threshold: float = 0.9,
    metric: str = DEFAULT_PARTNER_METRIC,
    options: ComputeOptions | None = None,
) -> MergePlan:
    """Plan Top-k greedy merging with kinship-guided exploration (module docstring).

    Raises:
        EmptyDatabaseError, ModelNotFoundError (a pool model is not stored),
        PlanPoolError (fewer than two usable pool models, or ``k`` < 2),
        UnknownChoiceError.
    """
    options = options or ComputeOptions()
    check_choice("metric", metric, METRICS)
    if k < 2:
        raise PlanPoolError("k must be at least 2 (a generation merges pairs of the top k)")
    names = list(dict.fromkeys(pool))
    with database.session() as session:
        require_models(session)
        known = model_facts(session, names)
    for rid in names:
        if rid not in known:
            raise ModelNotFoundError(rid)
    state = _Pool(database, options, metric)
    skipped: list[dict[str, str]] = []
    current = state.add(names, skipped)
    if current:
        # Merging needs one architecture: plan the largest group of mutually compatible
        # models (ties: the group with the best model).
        def group(lead: str) -> list[str]:
            return [r for r in current if state.compatible(lead, r)]

        lead = max(
            current,
            key=lambda r: (len(group(r)), state.facts[r].eval_average or 0.0, r),
        )
        kept = group(lead)
        for rid in [r for r in current if r not in kept]:
            skipped.append({"id": rid, "reason": f"architecture differs from {lead}'s group"})
        current = kept
    if len(current) < 2:
        raise PlanPoolError(
            f"the pool needs at least two models with card evaluations and readable "
            f"weights; {len(current)} of {len(names)} have both"
        )
    plan = MergePlan(
        pool=names, k=k, threshold=threshold, metric=metric, generations=[], stop_reason=""
    )
    previous: list[str] | None = None
    for number in range(1, generations + 1):
        ranked = sorted(current, key=lambda r: (-(state.facts[r].eval_average or 0.0), r))
        top = ranked[:k]
        if previous is not None and set(top) == set(previous):
            plan.stop_reason = f"the top-{k} set did not change in generation {number}"
            break
        previous = top
        gen = Generation(
            number=number,
            top_k=[{"id": r, "eval_average": state.facts[r].eval_average} for r in top],
            top_kinship=None,
        )
        plan.generations.append(gen)
        pairs = [(a, b) for a, b in itertools.combinations(top, 2) if state.compatible(a, b)]
        values = []
        for a, b in pairs:
            _base, value = state.pair(a, b)
            if value is not None and value.value is not None and math.isfinite(value.value):
                values.append(value.value)
        gen.top_kinship = sum(values) / len(values) if values else None
        if gen.top_kinship is not None and _converged(metric, gen.top_kinship, threshold):
            plan.stop_reason = (
                f"the top-{k} models' mean {metric} {gen.top_kinship:.3f} passed the "
                f"threshold {threshold} in generation {number}"
            )
            break
        for a, b in pairs:
            gen.merges.append(_proposal(state, number, "top-k", a, b))
        explore = _explore_partner(state, top[0], [r for r in ranked if r not in top])
        if explore is not None:
            gen.merges.append(_proposal(state, number, "explore", top[0], explore))
        made = _realized(database, state, gen.merges)
        if not made:
            plan.stop_reason = (
                f"generation {number} is not made yet: merge and evaluate it, crawl, and plan again"
            )
            break
        current = list(dict.fromkeys([*current, *state.add(made, skipped)]))
    else:
        plan.stop_reason = f"planned {generations} generation(s)"
    plan.skipped = skipped
    return plan


def _converged(metric: str, value: float, threshold: float) -> bool:
    # ``ed`` is a distance: the models have converged when it falls *below* the threshold.
    return value <= threshold if metric == "ed" else value >= threshold


def _proposal(state: _Pool, number: int, kind: str, a: str, b: str) -> ProposedMerge:
    base, value = state.pair(a, b)
    return ProposedMerge(
        generation=number,
        kind=kind,
        models=[a, b],
        shared_base=base,
        kinship=value,
        dtypes={r: state.signatures[r].dtype for r in (a, b)},
        vocab_sizes={r: state.signatures[r].vocab_size for r in (a, b)},
    )


def _explore_partner(state: _Pool, best: str, others: list[str]) -> str | None:
    """The compatible model outside the top k with the lowest kinship to ``best``."""
    scored = []
    for other in others:
        if not state.compatible(best, other):
            continue
        _base, value = state.pair(best, other)
        if value is not None and value.value is not None and math.isfinite(value.value):
            scored.append((relatedness(state.metric, value.value), other))
    return min(scored)[1] if scored else None


def _realized(database: Database, state: _Pool, merges: list[ProposedMerge]) -> list[str]:
    """Fill ``made_as`` from the database; returns the models found."""
    ids = [(state.facts[m.models[0]].id, state.facts[m.models[1]].id) for m in merges]
    with database.session() as session:
        children = merge_children(session, ids)
    made: list[str] = []
    for merge, pair in zip(merges, ids, strict=True):
        merge.made_as = children.get(pair, [])
        made.extend(merge.made_as)
    return list(dict.fromkeys(made))


__all__ = ["Generation", "MergePlan", "PlanPoolError", "ProposedMerge", "plan_merges"]
