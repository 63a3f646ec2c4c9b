"""Merge-partner suggestions: compatible relatives of a model, ranked by kinship.

``suggest_partners`` answers "which model should I merge mine with next?":

1. candidates are the models that share an ancestor with MODEL
   (:func:`kinhub.db.answers.partners.partner_candidates`);
2. only *compatible* ones stay: their architecture signature (safetensors headers,
   :mod:`kinhub.kinship.signature`) equals MODEL's; a vocabulary that differs only in
   rows is compatible with a warning (mergekit's ``tokenizer_source``).  A gated
   candidate whose weights cannot be read is kept when its ``config.json`` facts match,
   with a warning;
3. each candidate's kinship to MODEL against their shared base comes from the database
   (exact preferred, then the newest), else is measured now (``compute``: ``sampled``,
   a few percent of the bytes by Range reads, or ``exact``), else — ``compute=none``,
   or beyond the ``measure_limit`` — queued for the worker and shown as ``pending``;
4. ranking (``k`` = relatedness: the metric for ``pcc``/``cs``, minus it for ``ed``;
   ``k̂`` and ``ê`` are min-max scaled to [0, 1] over the candidates that have a value):

   * ``explore`` — the paper's kinship-guided exploration: the *strongest* candidates
     (evaluation average in the top half of those with one) ranked by *lowest*
     kinship first, ``score = 1 − k̂``; the other candidates follow, ranked the same;
   * ``balanced`` — ``score = ê − 0.5·k̂`` (unknown evaluation: ``ê = 0``; pending
     kinship: ``k̂ = 0.5``), highest first.

   Candidates without a kinship value (pending, failed) come after those with one.
   Every candidate says where its number comes from (``kinship_source``: ``measured``,
   ``estimated`` by sampling, or ``missing``). The order is total (ties broken by
   evaluation, then id), so the same database gives the same answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kinhub.db.answers.licenses import LicenseClass, classify
from kinhub.db.answers.partners import Candidate, ModelFacts, StoredKinship, partner_candidates
from kinhub.db.engine import Database
from kinhub.db.errors import KinhubError
from kinhub.db.jobs.keys import JobTarget, enqueue
from kinhub.db.signatures import Signature
from kinhub.kinship.errors import KinshipError
from kinhub.kinship.names import (
    COMPUTE_MODES,
    DEFAULT_COMPUTE,
    DEFAULT_PARTNER_METRIC,
    DEFAULT_STRATEGY,
    PARTNER_METRICS,
    STRATEGIES,
    Compute,
)
from kinhub.kinship.signature import SignatureFailure, ensure_signatures

logger = logging.getLogger(__name__)

METRICS = PARTNER_METRICS
DEFAULT_SAMPLE = 0.05
BALANCED_WEIGHT = 0.5
_COMMERCIAL = {LicenseClass.permissive, LicenseClass.copyleft, LicenseClass.restricted}
_NOT_COMMERCIAL = {LicenseClass.noncommercial, LicenseClass.no_derivatives}


class PartnerError(KinshipError):
    """A partner search that cannot be answered."""


class ModelWithoutWeightsError(PartnerError):
    """MODEL has no readable safetensors weights, so nothing can be merged with it."""

    def __init__(self, repo_id: str, reason: str) -> None:
        self.repo_id = repo_id
        what = "no readable safetensors weights"
        super().__init__(f"{repo_id}: {reason if reason.startswith(what) else f'{what}: {reason}'}")


class NoCompatibleCandidateError(PartnerError):
    """No model sharing an ancestor with MODEL has a compatible architecture."""

    def __init__(self, repo_id: str, *, related: int, skipped: list[dict[str, str]]) -> None:
        self.repo_id = repo_id
        self.related = related
        self.skipped = skipped
        if related == 0:
            why = "no other model shares an ancestor with it in the database"
        else:
            why = f"none of the {related} models sharing an ancestor with it is compatible"
        super().__init__(f"no merge partner for {repo_id}: {why}")


class UnknownChoiceError(KinhubError, ValueError):
    """A metric, strategy or compute mode name that is not known."""

    def __init__(self, what: str, value: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown {what} {value!r}; known: {', '.join(known)}")


@dataclass(frozen=True)
class KinshipValue:
    """A candidate's kinship to MODEL and how it was obtained."""

    value: float | None
    mode: str  # exact | sampled | pending | failed
    interval: dict[str, Any] | None
    base: str | None
    stored: bool = False  # read from the database rather than measured now

    @property
    def source(self) -> str:
        """``measured`` (exact), ``estimated`` (sampled, with an interval) or
        ``missing`` (pending, failed, or not a finite number)."""
        if _finite(self.value) is None:
            return "missing"
        return "estimated" if self.mode == "sampled" else "measured"

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _finite(self.value),
            "mode": self.mode,
            "interval": self.interval,
            "base": self.base,
        }


@dataclass
class PartnerRow:
    id: str
    kinship: KinshipValue
    shared_base: str
    eval_average: float | None
    license: str | None
    license_class: str
    compatibility: str  # same | vocab | config
    hops: int
    signature: Signature | None = None
    score: float | None = None
    strong: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kinship": self.kinship.to_json(),
            "kinship_source": self.kinship.source,
            "shared_base": self.shared_base,
            "score": _finite(self.score),
            "eval_average": _finite(self.eval_average),
            "license": self.license,
            "license_class": self.license_class,
            "compatibility": self.compatibility,
            "hops": self.hops,
            "strong": self.strong,
            "warnings": list(self.warnings),
        }


@dataclass
class PartnerReport:
    model: str
    metric: str
    strategy: str
    compute: str
    candidates: list[PartnerRow]
    model_facts: ModelFacts
    model_signature: Signature
    skipped: list[dict[str, str]] = field(default_factory=list)
    queued: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "strategy": self.strategy,
            "compute": self.compute,
            "eval_average": _finite(self.model_facts.eval_average),
            "license": self.model_facts.license,
            "candidates": [c.to_json() for c in self.candidates],
            "skipped": list(self.skipped),
            "queued": self.queued,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def check_choice(what: str, value: str, known: tuple[str, ...]) -> None:
    """Raises: UnknownChoiceError when ``value`` is not one of ``known``."""
    if value not in known:
        raise UnknownChoiceError(what, value, known)


# ---------------------------------------------------------------- warnings


def license_warning(
    model: str, model_license: str | None, other: str, other_license: str | None
) -> str | None:
    """A warning when the two licenses do not go together in one merge: a
    non-commercial or no-derivatives license with a commercial-use one; or unknown."""
    a, b = classify(model_license), classify(other_license)
    if LicenseClass.no_derivatives in (a, b):
        who = model if a is LicenseClass.no_derivatives else other
        return f"license conflict: {who} forbids derivatives; the merge may not be published"
    if (a in _NOT_COMMERCIAL and b in _COMMERCIAL) or (b in _NOT_COMMERCIAL and a in _COMMERCIAL):
        return (
            f"license conflict: {model} is {model_license} ({a.value}), {other} is "
            f"{other_license} ({b.value}); the merge is bound by the non-commercial terms"
        )
    if b in (LicenseClass.unknown, LicenseClass.other):
        return f"license of {other} is {other_license or 'unknown'}: read its card"
    return None


def vocab_warning(mine: Signature, other: Signature, other_id: str) -> str:
    return (
        f"vocabulary differs ({mine.vocab_size} vs {other.vocab_size} rows in {other_id}): "
        "the config sets tokenizer_source"
    )


# ---------------------------------------------------------------- kinship


def relatedness(metric: str, value: float) -> float:
    """Higher means more related: the metric itself, or minus the distance for ``ed``."""
    return -value if metric == "ed" else value


def best_stored(rows: list[StoredKinship], *, metric: str, base_id: int) -> StoredKinship | None:
    """The stored measurement to show: one against the shared base when there is one,
    exact before sampled, newest first; only rows holding ``metric``."""
    usable = [r for r in rows if r.value(metric) is not None]
    if not usable:
        return None
    return max(
        usable, key=lambda r: (r.base_id == base_id, r.mode == "exact", r.computed_at, r.kinship_id)
    )


def _ref(repo_id: str, sha: str | None) -> str:
    return f"{repo_id}@{sha}" if sha else repo_id


@dataclass(frozen=True)
class ComputeOptions:
    compute: Compute = DEFAULT_COMPUTE
    sample: float = DEFAULT_SAMPLE
    endpoint: str | None = None
    cache_dir: str | None = None
    measure_limit: int = 8  # measurements made now per call; the rest is queued
    progress: Callable[[str], None] | None = None


def obtain_kinship(
    database: Database,
    *,
    model: ModelFacts,
    other: ModelFacts,
    base: ModelFacts,
    metric: str,
    stored: list[StoredKinship],
    options: ComputeOptions,
    allow_measure: bool,
) -> tuple[KinshipValue, bool]:
    """The kinship of (model, other) against ``base``: stored, measured now, or queued.
    Returns the value and whether a job was queued."""
    found = best_stored(stored, metric=metric, base_id=base.id)
    if found is not None:
        interval = found.intervals.get(metric) if found.mode == "sampled" else None
        return (
            KinshipValue(found.value(metric), found.mode, interval, found.base, stored=True),
            False,
        )
    if options.compute != "none" and allow_measure:
        from kinhub.kinship.service import measure_kinship

        if options.progress is not None:
            options.progress(other.repo_id)
        try:
            measured = measure_kinship(
                database,
                a=_ref(model.repo_id, model.sha),
                b=_ref(other.repo_id, other.sha),
                base=_ref(base.repo_id, base.sha),
                metrics=[metric],
                sample=options.sample if options.compute == "sampled" else None,
                endpoint=options.endpoint,
                cache_dir=options.cache_dir,
            )
        except KinhubError as exc:
            logger.info("kinship of %s and %s failed: %s", model.repo_id, other.repo_id, exc)
            return KinshipValue(None, "failed", None, base.repo_id), False
        result = measured.result
        value = result.metrics.get(metric)
        interval = result.intervals.get(metric) if result.mode == "sampled" else None
        return (
            KinshipValue(
                float(value) if value is not None else None, result.mode, interval, base.repo_id
            ),
            False,
        )
    target = JobTarget.canonical(
        kind="pair",
        model_a=model.repo_id,
        model_b=other.repo_id,
        base=base.repo_id,
        revision_a=model.sha,
        revision_b=other.sha,
        revision_base=base.sha,
        priority=1000,
    )
    with database.write_transaction() as session:
        enqueue(session, [target])
    return KinshipValue(None, "pending", None, base.repo_id), True


# ---------------------------------------------------------------- compatibility


def _config_compatible(a: ModelFacts, own: Signature, b: ModelFacts) -> bool:
    """The weaker check for a candidate whose weights cannot be read: same architecture
    class, and the same sizes wherever both are known."""
    if not a.architectures or a.architectures != b.architectures:
        return False
    pairs = ((own.hidden_size, b.hidden_size), (own.num_layers, b.num_layers))
    return all(x == y for x, y in pairs if x is not None and y is not None)


@dataclass
class _Compatible:
    candidate: Candidate
    signature: Signature | None
    compatibility: str
    warnings: list[str]


def compatible_candidates(
    database: Database,
    *,
    model: ModelFacts,
    candidates: list[Candidate],
    options: ComputeOptions,
    max_signature_reads: int | None = 64,
) -> tuple[Signature, list[_Compatible], list[dict[str, str]]]:
    """MODEL's signature, the compatible candidates and the skipped ones with reasons.

    Raises:
        ModelWithoutWeightsError: MODEL's own signature cannot be read.
    """
    mine, failed = ensure_signatures(
        database, [model.repo_id], endpoint=options.endpoint, cache_dir=options.cache_dir
    )
    if model.repo_id not in mine:
        raise ModelWithoutWeightsError(model.repo_id, failed[model.repo_id].reason)
    own = mine[model.repo_id]
    sigs, failures = ensure_signatures(
        database,
        [c.facts.repo_id for c in candidates],
        endpoint=options.endpoint,
        cache_dir=options.cache_dir,
        max_reads=max_signature_reads,
    )
    kept: list[_Compatible] = []
    skipped: list[dict[str, str]] = []
    for c in candidates:
        rid = c.facts.repo_id
        warnings: list[str] = []
        sig = sigs.get(rid)
        kind: str
        if sig is not None:
            kind = own.compatibility(sig)
            if kind == "incompatible":
                skipped.append({"id": rid, "reason": _difference(own, sig)})
                continue
            if kind == "vocab":
                warnings.append(vocab_warning(own, sig, rid))
        else:
            failure = failures.get(rid, SignatureFailure(rid, "no signature"))
            if c.facts.gated and _config_compatible(model, own, c.facts):
                kind = "config"
                warnings.append(
                    f"weights not readable ({failure.reason}); compatible by its config only"
                )
            else:
                skipped.append({"id": rid, "reason": f"no weights: {failure.reason}"})
                continue
        if c.facts.gated:
            warnings.append(f"gated ({c.facts.gated}): accept its terms on the Hub to download it")
        kept.append(_Compatible(c, sig, kind, warnings))
    return own, kept, skipped


def _difference(a: Signature, b: Signature) -> str:
    for label, x, y in (
        ("model type", a.model_type, b.model_type),
        ("layers", a.num_layers, b.num_layers),
        ("hidden size", a.hidden_size, b.hidden_size),
        ("tensors", a.num_tensors, b.num_tensors),
    ):
        if x != y:
            return f"incompatible architecture: {label} {y} vs {x}"
    return "incompatible architecture: tensor names or shapes differ"


# ---------------------------------------------------------------- ranking


def _scale(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 0 else 0.5 for k, v in values.items()}


def strong_set(rows: list[PartnerRow]) -> set[str]:
    """The strongest candidates: those whose evaluation average is in the top half of
    the candidates with one (the upper median and above)."""
    known = sorted(
        (r for r in rows if r.eval_average is not None),
        key=lambda r: (-(r.eval_average or 0.0), r.id),
    )
    return {r.id for r in known[: math.ceil(len(known) / 2)]}


def rank(rows: list[PartnerRow], *, metric: str, strategy: str) -> list[PartnerRow]:
    """Score and order ``rows`` (see the module docstring); returns a new list."""
    rel = {
        r.id: relatedness(metric, r.kinship.value)
        for r in rows
        if r.kinship.value is not None and math.isfinite(r.kinship.value)
    }
    k_hat = _scale(rel)
    e_hat = _scale({r.id: r.eval_average for r in rows if r.eval_average is not None})
    strong = strong_set(rows)
    for r in rows:
        has = r.id in k_hat
        if strategy == "explore":
            r.strong = r.id in strong or not strong
            r.score = 1.0 - k_hat[r.id] if has else None
        else:
            r.strong = True
            r.score = e_hat.get(r.id, 0.0) - BALANCED_WEIGHT * k_hat.get(r.id, 0.5)
    return sorted(
        rows,
        key=lambda r: (
            not r.strong,
            r.id not in k_hat,
            -(r.score if r.score is not None else -math.inf),
            -(r.eval_average if r.eval_average is not None else -math.inf),
            r.id,
        ),
    )


# ---------------------------------------------------------------- the service


def suggest_partners(
    database: Database,
    *,
    model: str,
    top: int = 5,
    metric: str = DEFAULT_PARTNER_METRIC,
    strategy: str = DEFAULT_STRATEGY,
    options: ComputeOptions | None = None,
    pool: int = 200,
    max_signature_reads: int | None = 64,
) -> PartnerReport:
    """Ranked merge partners for ``model`` (see the module docstring).

    Raises:
        EmptyDatabaseError, ModelNotFoundError, ModelWithoutWeightsError,
        NoCompatibleCandidateError, UnknownChoiceError.
    """
    options = options or ComputeOptions()
    check_choice("metric", metric, METRICS)
    check_choice("strategy", strategy, STRATEGIES)
    check_choice("compute mode", options.compute, COMPUTE_MODES)
    with database.session() as session:
        query = partner_candidates(session, repo_id=model, limit=pool)
    own, kept, skipped = compatible_candidates(
        database,
        model=query.model,
        candidates=query.candidates,
        options=options,
        max_signature_reads=max_signature_reads,
    )
    if not kept:
        raise NoCompatibleCandidateError(model, related=len(query.candidates), skipped=skipped)
    rows = [_row(query.model, c) for c in kept]
    # Measure where it can change the answer: the strongest first (explore), else by
    # evaluation; everything else without a stored value is queued.
    strong = strong_set(rows) if strategy == "explore" else set()
    order = sorted(
        range(len(kept)),
        key=lambda i: (
            rows[i].id not in strong and bool(strong),
            -_or_low(rows[i].eval_average),
            kept[i].candidate.hops,
            rows[i].id,
        ),
    )
    bases = _base_facts(database, kept)
    measured = queued = 0
    for i in order:
        c = kept[i].candidate
        value, was_queued = obtain_kinship(
            database,
            model=query.model,
            other=c.facts,
            base=bases[c.shared_base_id],
            metric=metric,
            stored=c.kinship,
            options=options,
            # A candidate whose weights are unreadable (gated) can only be queued.
            allow_measure=measured < options.measure_limit and kept[i].signature is not None,
        )
        if not value.stored and value.mode in ("exact", "sampled", "failed"):
            measured += 1
        queued += was_queued
        rows[i].kinship = value
        if value.mode == "failed":
            rows[i].warnings.append("kinship could not be measured now (see -v)")
    ranked = rank(rows, metric=metric, strategy=strategy)[:top]
    return PartnerReport(
        model=model,
        metric=metric,
        strategy=strategy,
        compute=options.compute,
        candidates=ranked,
        model_facts=query.model,
        model_signature=own,
        skipped=skipped,
        queued=queued,
    )


def _or_low(value: float | None) -> float:
    return value if value is not None else -math.inf


def _row(model: ModelFacts, c: _Compatible) -> PartnerRow:
    f = c.candidate.facts
    warnings = list(c.warnings)
    lic = license_warning(model.repo_id, model.license, f.repo_id, f.license)
    if lic:
        warnings.insert(0, lic)
    return PartnerRow(
        id=f.repo_id,
        kinship=KinshipValue(None, "pending", None, c.candidate.shared_base),
        shared_base=c.candidate.shared_base,
        eval_average=f.eval_average,
        license=f.license,
        license_class=classify(f.license).value,
        compatibility=c.compatibility,
        hops=c.candidate.hops,
        signature=c.signature,
        warnings=warnings,
    )


def _base_facts(database: Database, kept: list[_Compatible]) -> dict[int, ModelFacts]:
    from kinhub.db.answers.partners import model_facts

    names = sorted({c.candidate.shared_base for c in kept})
    with database.session() as session:
        facts = model_facts(session, names)
    return {f.id: f for f in facts.values()}


__all__ = [
    "METRICS",
    "ComputeOptions",
    "KinshipValue",
    "ModelWithoutWeightsError",
    "NoCompatibleCandidateError",
    "PartnerError",
    "PartnerReport",
    "PartnerRow",
    "UnknownChoiceError",
    "compatible_candidates",
    "license_warning",
    "obtain_kinship",
    "rank",
    "relatedness",
    "suggest_partners",
]
