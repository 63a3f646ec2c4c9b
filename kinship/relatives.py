"""``kinhub relatives``: the models whose weight changes are closest to a model's.

A model's weight change is its sketch minus a base's, ``M − Z``; a candidate ``X``'s
is ``X − Z`` against the same base, and their similarity is the ``cs`` of
``kinhub kinship M X --base Z --sketch`` (cosine weighted by the plan's
Horvitz–Thompson block weights, :func:`kinhub.kinship.sketch_compare.weighted_cosines`).
Candidates are the models with a stored sketch of the same plan (the same tensor names
and shapes), the model and the base excluded.

The base ``Z`` is the one asked for, else the model's declared root: of its ancestors
through stored edges (any relation) that have a sketch of the same plan, the farthest
(fewest hops breaking ties the other way: the root of the chain, so a fine-tune of a
fine-tune is measured as a change of the foundation both started from); ties by repo
id.  No such ancestor: :class:`NoBaseError` (the user passes ``--base``).

Speed at 100,000 sketches of one plan: every model has a **summary**
(:mod:`kinhub.kinship.sketch_summary`, 512 bytes, table ``sketch_summary``) stored with
its sketch, and a plan's summaries are also kept 10,000 to a row
(``sketch_summary_page``, rewritten by :func:`prepare` once ``REPACK_AT`` summaries are
outside the pages; until then those are read row by row and replace a page's copy).
A query reads the pages (a few rows), ranks every candidate by the projected cosine,
keeps a shortlist (``max(10·K, 100)`` by default) and compares the shortlist's full
sketches exactly.  The answer's similarities are exact sketch ``cs``; what the
shortlist can cost is a true top-K member that ranked below the shortlist by
projection (scripts/bench_relatives.py measures the recall).  Sketches stored before
summaries existed (migration 0011) get one at the first query (:func:`backfill`,
once per database, recorded in the ``setting`` table).

``declared``: the genealogy already links the two — one is an ancestor of the other
through stored edges (any relation, any direction).  Siblings (a shared ancestor only)
are not declared: every candidate shares the base with the model, so that would make
every answer declared.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kinhub.db import sketch_summary as summaries
from kinhub.db.engine import Database
from kinhub.db.errors import ModelNotFoundError
from kinhub.db.ids import split_revision, validate_repo_id
from kinhub.db.jobs.plan import Genealogy
from kinhub.db.settings import get_setting, set_setting
from kinhub.db.sketch_store import StoredSketch, find_model, load_plan
from kinhub.kinship.errors import KinshipError
from kinhub.kinship.sketch_compare import SketchMismatchError, value_weights, weighted_cosines
from kinhub.kinship.sketch_plan import SketchLayout
from kinhub.kinship.sketch_service import stored_layout, stored_sketch
from kinhub.kinship.sketch_summary import projection
from sqlmodel import Session

logger = logging.getLogger(__name__)

DEFAULT_TOP = 10
MIN_SHORTLIST = 100
SHORTLIST_FACTOR = 10
MAX_TOP = 10_000
# Summaries outside the plan's pages before a query rewrites the pages: below this,
# reading them row by row costs a few milliseconds.
REPACK_AT = 1_000
# A setting stored once every sketch has a summary (sketches stored before
# migration 0011 get theirs at the first query).
SUMMARIES_COMPLETE = "sketch_summaries_complete"


class RelativesError(KinshipError):
    """A relatives query that cannot be answered (no sketch, model equal to its base)."""


class NoBaseError(RelativesError):
    """No base was given and the model declares none with a sketch of its plan."""


@dataclass(frozen=True)
class Relative:
    model: str
    sha: str
    similarity: float
    declared: bool
    projected: float  # the summary's estimate, which chose the shortlist

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sha": self.sha,
            "similarity": self.similarity,
            "declared": self.declared,
            "projected": self.projected,
        }


@dataclass
class Relatives:
    """The answer of ``kinhub relatives``."""

    model: str
    sha: str
    base: str
    base_sha: str
    base_declared: bool  # the base was found in the genealogy (not given)
    plan: str
    candidates: int  # models with a sketch (summary) of the plan
    shortlist: int  # full sketches compared
    relatives: list[Relative] = field(default_factory=list)
    seconds: float = 0.0
    backfilled: int = 0
    packed: int = 0  # summaries this query rewrote into pages (0: none)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sha": self.sha,
            "base": self.base,
            "base_sha": self.base_sha,
            "base_from": "genealogy" if self.base_declared else "option",
            "plan": self.plan,
            "candidates": self.candidates,
            "shortlist": self.shortlist,
            "seconds": self.seconds,
            "relatives": [r.to_json() for r in self.relatives],
        }


def shortlist_size(top: int) -> int:
    return max(SHORTLIST_FACTOR * top, MIN_SHORTLIST)


def backfill(session: Session) -> int:
    """Store the summary of every model with a sketch and none (of its latest
    sketch), then record that every sketch has one; returns how many were stored.
    Does not commit."""
    missing = summaries.unsummarized(session)
    layouts: dict[str, SketchLayout] = {}
    for start in range(0, len(missing), 200):
        latest = summaries.latest_of_models(session, missing[start : start + 200])
        data = summaries.sketch_data(session, ((m, rev) for m, (rev, _) in latest.items()))
        rows = []
        for model_id, (revision, key) in latest.items():
            if key not in layouts:
                plan = load_plan(session, key)
                if plan is None:  # pragma: no cover - a sketch's plan is stored with it
                    continue
                layouts[key] = SketchLayout.from_stored(
                    key=plan.key, size=plan.size, block=plan.block, seed=plan.seed,
                    layout=plan.layout,
                )  # fmt: skip
            values = np.frombuffer(data[model_id], dtype="<f4")
            rows.append((model_id, revision, key, projection(layouts[key]).summary_bytes(values)))
        summaries.save_summaries(session, rows)
    set_setting(session, SUMMARIES_COMPLETE, "1")
    if missing:
        logger.info("stored %d sketch summaries", len(missing))
    return len(missing)


def prepare(database: Database, layout: SketchLayout) -> tuple[int, int]:
    """Make the summaries of ``layout``'s plan ready to read: once per database,
    store those of sketches stored before summaries existed (:func:`backfill`; every
    later sketch is stored with its summary, ``kinhub.kinship.sketch.store_sketch``),
    and rewrite the plan's pages when ``REPACK_AT`` or more summaries are outside
    them.  Returns ``(backfilled, packed)``; the write lock is taken only when there
    is something to do."""
    with database.session() as session:
        complete = get_setting(session, SUMMARIES_COMPLETE) is not None
        unpacked = summaries.count_unpacked(session, layout.key, limit=REPACK_AT)
    if complete and unpacked < REPACK_AT:
        return 0, 0
    with database.write_transaction() as session:
        backfilled = 0 if complete else backfill(session)
        packed = 0
        if summaries.count_unpacked(session, layout.key, limit=REPACK_AT) >= REPACK_AT:
            packed = summaries.repack(session, layout.key)
            logger.info("packed %d sketch summaries of plan %s", packed, layout.key[:12])
    return backfilled, packed


def _target(database: Database, ref: str) -> tuple[str, int, StoredSketch]:
    """``(repo_id, model id, sketch)`` of ``ref``.

    Raises: InvalidRepoIdError, ModelNotFoundError, RelativesError (no sketch)."""
    repo_id, _ = split_revision(ref)
    validate_repo_id(repo_id)
    with database.session() as session:
        row = find_model(session, repo_id)
        if row is None or row.id is None:
            raise ModelNotFoundError(repo_id)
        model_id = row.id
    found = stored_sketch(database, ref)
    if found is None:
        raise RelativesError(f"{ref}: no stored sketch (run `kinhub sketch {repo_id}`)")
    return repo_id, model_id, found


def _declared_base(session: Session, genealogy: Genealogy, model_id: int, plan: str) -> int | None:
    ancestors = genealogy.ancestors(model_id)
    sketched = summaries.summarized_among(session, ancestors, plan)
    if not sketched:
        return None
    rows = genealogy.models(sketched)
    return min(sketched, key=lambda a: (-ancestors[a], rows[a].repo_id))


def find_relatives(
    database: Database,
    model: str,
    *,
    top: int = DEFAULT_TOP,
    base: str | None = None,
    shortlist: int | None = None,
) -> Relatives:
    """The ``top`` models whose weight changes against the base are closest to
    ``model``'s (see the module docstring), by similarity, highest first.

    Raises:
        InvalidRepoIdError, ModelNotFoundError (model or base not stored),
        RelativesError (no stored sketch; the model equals the base at every sketched
        coordinate), NoBaseError, SketchMismatchError (the base's sketch has another
        plan), ValueError (``top`` or ``shortlist`` below 1).
    """
    if top < 1 or top > MAX_TOP:
        raise ValueError(f"--top must be between 1 and {MAX_TOP:,}, got {top}")
    if shortlist is not None and shortlist < 1:
        raise ValueError(f"the shortlist must be positive, got {shortlist}")
    t0 = time.perf_counter()
    repo_id, model_id, sketch = _target(database, model)
    layout = stored_layout(database, sketch.plan_key)
    backfilled, repacked = prepare(database, layout)
    with database.session() as session:
        genealogy = Genealogy(session)
        if base is not None:
            base_repo, base_id, base_sketch = _target(database, base)
            if base_sketch.plan_key != sketch.plan_key:
                raise SketchMismatchError(
                    f"{base_repo} has a sketch of another plan than {repo_id} "
                    "(tensor names or shapes differ)"
                )
        else:
            found_base = _declared_base(session, genealogy, model_id, sketch.plan_key)
            if found_base is None:
                raise NoBaseError(
                    f"{repo_id} declares no ancestor with a sketch of its plan: "
                    "pass --base MODEL (the model its changes are measured from)"
                )
            base_repo, base_id = genealogy.model(found_base).repo_id, found_base
            base_sketch = _latest(session, base_id, sketch.plan_key)
        stored = summaries.load_summaries(session, sketch.plan_key)
        ranked = _rank(layout, sketch, base_sketch, stored, exclude={model_id, base_id}, top=top,
                       shortlist=shortlist or shortlist_size(top), session=session)  # fmt: skip
        names = summaries.repo_ids(session, [m for m, *_ in ranked])
        genealogy.prefetch_ancestry([model_id, *(m for m, *_ in ranked)])
        ancestors = genealogy.ancestors(model_id)
        relatives = [
            Relative(
                model=names[m],
                sha=revision,
                similarity=similarity,
                declared=m in ancestors or model_id in genealogy.ancestors(m),
                projected=projected,
            )
            for m, revision, similarity, projected in ranked
        ]
    return Relatives(
        model=repo_id,
        sha=sketch.revision,
        base=base_repo,
        base_sha=base_sketch.revision,
        base_declared=base is None,
        plan=sketch.plan_key,
        candidates=stored.count,
        shortlist=min(shortlist or shortlist_size(top), stored.count),
        relatives=relatives,
        seconds=time.perf_counter() - t0,
        backfilled=backfilled,
        packed=repacked,
    )


def _latest(session: Session, model_id: int, plan: str) -> StoredSketch:
    """The sketch the summary of ``model_id`` (a declared base) was made from."""
    revision, data = summaries.summarized_sketches(session, [model_id], plan)[model_id]
    return StoredSketch(model_id, revision, plan, data, 0, 0, 0, 0.0)


def _rank(
    layout: SketchLayout,
    sketch: StoredSketch,
    base: StoredSketch,
    stored: summaries.PlanSummaries,
    *,
    exclude: set[int],
    top: int,
    shortlist: int,
    session: Session,
) -> list[tuple[int, str, float, float]]:
    """``(model id, revision, similarity, projected)`` of the top candidates."""
    m = np.frombuffer(sketch.data, dtype="<f4")
    z = np.frombuffer(base.data, dtype="<f4")
    if m.size != z.size:
        raise SketchMismatchError(f"sketch lengths {m.size} and {z.size} differ")
    target = m.astype(np.float64) - z
    if not target.any():
        raise RelativesError(
            f"the model equals the base {base.revision[:12]} at every sketched value: "
            "no weight change to compare"
        )
    proj = projection(layout)
    if not stored.count:
        return []
    pz = proj.apply(z).astype(np.float32)
    q = proj.apply(target).astype(np.float32)
    qnorm = float(np.linalg.norm(q))
    parts = []
    for block_ids, data in stored.blocks:  # a page at a time: no copy of the whole plan
        rows = np.frombuffer(data, dtype="<f4").reshape(block_ids.size, -1)
        if rows.shape[1] != proj.dim:
            raise SketchMismatchError(f"summaries of {rows.shape[1]} values, plan has {proj.dim}")
        deltas = rows - pz
        norms = np.sqrt(np.einsum("ij,ij->i", deltas, deltas)) * qnorm
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append(np.where(norms > 0, (deltas @ q) / np.where(norms > 0, norms, 1), 0.0))
    scores = np.concatenate(parts)
    ids = stored.model_ids()
    scores[np.isin(ids, list(exclude))] = -np.inf
    keep = min(shortlist, int(np.isfinite(scores).sum()))
    if keep == 0:
        return []
    picked = np.argpartition(-scores, keep - 1)[:keep]
    sketches = summaries.summarized_sketches(
        session, (int(ids[i]) for i in picked), sketch.plan_key
    )
    order = [i for i in picked if int(ids[i]) in sketches]
    if not order:
        return []
    full = np.stack([np.frombuffer(sketches[int(ids[i])][1], dtype="<f4") for i in order])
    exact = weighted_cosines(value_weights(layout), target, full.astype(np.float64) - z)
    best = np.argsort(-exact, kind="stable")[:top]
    return [
        (int(ids[order[j]]), sketches[int(ids[order[j]])][0], float(exact[j]),
         float(scores[order[j]]))
        for j in best
    ]  # fmt: skip
