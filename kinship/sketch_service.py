"""Kinship answered from stored sketches (``kinhub kinship --sketch``, ``kinhub worker
--mode sketch``).

The three models' sketches are looked up by (model, revision) — the revision written
as a full commit sha, else the one the database stores for the model, else the latest
sketch — so when all three are stored nothing is asked of the Hub.  A missing sketch
is read first (``sketch_missing``; the Hub is asked then).  The result is stored like
any measurement, with mode ``sketch`` and a 95% interval per metric.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
from kinhub.db import sketch_store
from kinhub.db.engine import Database
from kinhub.db.ids import split_revision, validate_repo_id
from kinhub.db.kinship_store import in_key_order, kinship_key, save_kinship
from kinhub.db.sketch_store import StoredSketch
from kinhub.kinship import metrics as registry
from kinhub.kinship.errors import KinshipError, ModelSourceError
from kinhub.kinship.service import (
    CONVENTION,
    DEFAULT_METRICS,
    Measurement,
    RowHook,
    _as_asked,
    base_warnings,
    looks_local,
)
from kinhub.kinship.sketch import sketch_model
from kinhub.kinship.sketch_compare import MODE, SketchMismatchError, sketch_result
from kinhub.kinship.sketch_plan import SketchLayout

logger = logging.getLogger(__name__)

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class SketchMissingError(KinshipError):
    """A model has no stored sketch (and reading one was not allowed)."""


def stored_sketch(database: Database, ref: str) -> StoredSketch | None:
    """The stored sketch of ``ref`` (``org/name[@commit]``): at the commit written, else
    at the model's stored sha, else its latest; None when there is none."""
    repo_id, revision = split_revision(ref)
    with database.session() as session:
        row = sketch_store.find_model(session, repo_id)
        if row is None or row.id is None:
            return None
        sha = revision if revision and _COMMIT.match(revision) else row.sha
        found = sketch_store.load_sketch(session, row.id, sha)
        if found is None and sha is not None and not (revision and _COMMIT.match(revision)):
            found = sketch_store.load_sketch(session, row.id, None)  # the latest one
        return found


def stored_layout(database: Database, key: str) -> SketchLayout:
    """The stored plan ``key``.  Raises: SketchMismatchError (not stored)."""
    with database.session() as session:
        plan = sketch_store.load_plan(session, key)
        if plan is None:
            raise SketchMismatchError(f"sketch plan {key[:12]} is not stored")
        return SketchLayout.from_stored(
            key=plan.key, size=plan.size, block=plan.block, seed=plan.seed, layout=plan.layout
        )


def _check_ref(ref: str) -> str:
    if looks_local(ref):
        raise ModelSourceError(ref, "sketch mode compares Hub models (org/name[@revision])")
    repo_id, _ = split_revision(ref)
    validate_repo_id(repo_id)
    return ref


def measure_from_sketches(
    database: Database,
    *,
    a: str,
    b: str,
    base: str,
    metrics: Sequence[str] = DEFAULT_METRICS,
    endpoint: str | None = None,
    sketch_missing: bool = True,
    on_row: RowHook | None = None,
) -> Measurement:
    """Kinship of ``a`` and ``b`` against ``base`` from their stored sketches.

    Raises:
        SketchMissingError (``sketch_missing`` False), SketchMismatchError (the sketches
        come from different plans: other tensors or shapes), ModelSourceError,
        InvalidRepoIdError, UnknownMetricError, and what reading a sketch raises.
    """
    names = [registry.get(n).name for n in dict.fromkeys(metrics)]
    refs = tuple(_check_ref(r) for r in (a, b, base))
    sketches: list[StoredSketch] = []
    bytes_read = 0
    for ref in refs:
        found = stored_sketch(database, ref)
        if found is None:
            if not sketch_missing:
                raise SketchMissingError(f"{ref}: no stored sketch (run `kinhub sketch {ref}`)")
            outcome = sketch_model(database, ref, endpoint=endpoint)
            bytes_read += outcome.bytes_read
            found = stored_sketch(database, f"{split_revision(ref)[0]}@{outcome.sha}")
            if found is None:  # pragma: no cover - just stored
                raise SketchMissingError(f"{ref}: the sketch just read is not stored")
        sketches.append(found)
    keys = {s.plan_key for s in sketches}
    if len(keys) != 1:
        raise SketchMismatchError(
            "the sketches come from different plans (tensor names or shapes differ): "
            + ", ".join(f"{r}: {s.plan_key[:12]}" for r, s in zip(refs, sketches, strict=True))
        )
    layout = stored_layout(database, keys.pop())
    warnings = base_warnings(database, a=refs[0], b=refs[1], base=refs[2])
    plain = [split_revision(r)[0] for r in refs]
    fps = {"a": sketches[0].revision, "b": sketches[1].revision, "base": sketches[2].revision}
    swapped = not in_key_order(a=plain[0], b=plain[1], fingerprints=fps)
    order = (1, 0, 2) if swapped else (0, 1, 2)
    values = tuple(np.frombuffer(sketches[i].data, dtype="<f4") for i in order)
    revisions = tuple(sketches[i].revision for i in order)
    result = sketch_result(
        layout,
        (values[0], values[1], values[2]),
        refs=(plain[order[0]], plain[order[1]], plain[2]),
        revisions=(revisions[0], revisions[1], revisions[2]),
        metrics=names,
        bytes_read=bytes_read,
    )
    key = kinship_key(
        a=result.a,
        b=result.b,
        base=result.base,
        fingerprints={"a": revisions[0], "b": revisions[1], "base": revisions[2]},
        mode=MODE,
        convention=CONVENTION,
    )
    with database.write_transaction() as session:
        row = save_kinship(
            session,
            key=key,
            a=result.a,
            b=result.b,
            base=result.base,
            revisions=result.revisions,
            mode=MODE,
            convention=CONVENTION,
            metrics=result.metrics,
            params_compared=result.params_compared,
            bytes_read=result.bytes_read,
            seconds=result.seconds,
            intervals=result.intervals,
            warnings=warnings,
        )
        if on_row is not None:
            on_row(session, row)
        computed_at, kinship_id = row.computed_at, row.id
    _as_asked(result, refs=(refs[0], refs[1], refs[2]), swapped=swapped)
    return Measurement(
        result=result, computed_at=computed_at, kinship_id=kinship_id, warnings=warnings
    )
