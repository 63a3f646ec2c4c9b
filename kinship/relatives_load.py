"""Many sketches into the database at once, and the brute-force scan that
``kinhub relatives`` avoids: the benchmark's loader and baseline
(scripts/bench_relatives.py), over the same store functions and the same exact
similarity as the command."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from kinhub.db import sketch_store
from kinhub.db import sketch_summary as summaries
from kinhub.db.engine import Database
from kinhub.kinship.sketch_compare import value_weights, weighted_cosines
from kinhub.kinship.sketch_plan import SketchLayout
from kinhub.kinship.sketch_summary import projection


def bulk_store(
    database: Database,
    layout: SketchLayout,
    *,
    names: Sequence[str],
    values: np.ndarray,
    edges: Sequence[tuple[int, int]] = (),
    revision: str = "0" * 40,
    batch: int = 1_000,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Store ``values[i]`` as the sketch (and summary) of new model ``names[i]`` at
    ``revision``, ``batch`` models per transaction, then the declared ``edges``
    ``(child index, parent index)`` as ``finetune``/``parent`` card metadata.

    Raises: ValueError (``values`` is not ``[len(names), layout.num_values]``)."""
    if values.shape != (len(names), layout.num_values):
        raise ValueError(f"values {values.shape} != ({len(names)}, {layout.num_values})")
    proj = projection(layout)
    with database.write_transaction() as session:
        sketch_store.save_plan(
            session, key=layout.key, size=layout.size, block=layout.block, seed=layout.seed,
            num_params=layout.num_params, layout=layout.to_layout(),
        )  # fmt: skip
    ids: list[int] = []
    for start in range(0, len(names), batch):
        chunk = list(names[start : start + batch])
        block = values[start : start + batch]
        projected = proj.apply(block).astype("<f4")
        with database.write_transaction() as session:
            found = summaries.insert_models(session, chunk, sha=revision)
            rows = [found[n] for n in chunk]
            summaries.insert_sketches(
                session,
                [(m, revision, layout.key, block[i].astype("<f4").tobytes())
                 for i, m in enumerate(rows)],
            )  # fmt: skip
            summaries.save_summaries(
                session,
                [(m, revision, layout.key, projected[i].tobytes()) for i, m in enumerate(rows)],
            )
        ids.extend(rows)
        if on_batch is not None:
            on_batch(start + len(chunk))
    for start in range(0, len(edges), 10_000):
        with database.write_transaction() as session:
            summaries.insert_edges(
                session,
                [(ids[c], ids[p], "finetune", "parent", "card_metadata")
                 for c, p in edges[start : start + 10_000]],
            )  # fmt: skip


@dataclass(frozen=True)
class Scan:
    """A brute-force exact ranking over a plan's first ``scanned`` full sketches."""

    ranked: list[tuple[str, float]]
    scanned: int
    seconds: float
    bytes_read: int


def exact_scan(
    database: Database,
    layout: SketchLayout,
    *,
    model: str,
    base: str,
    top: int,
    limit: int | None = None,
) -> Scan:
    """Read every full sketch of ``layout``'s plan (the first ``limit`` by model id)
    and rank them exactly against ``model``'s change from ``base``, as
    ``kinhub relatives`` would without summaries (``model`` and ``base`` excluded).

    Raises: KeyError (``model`` or ``base`` has no sketch of the plan)."""
    t0 = time.perf_counter()
    with database.session() as session:
        names = {n: m for m, n in summaries.repo_ids(session, _ids(session, (model, base))).items()}
        own = summaries.latest_sketches(session, names.values(), layout.key)
        stored = summaries.plan_sketches(session, layout.key, limit=limit)
        labels = summaries.repo_ids(session, stored.model_ids)
    m = np.frombuffer(own[names[model]][1], dtype="<f4")
    z = np.frombuffer(own[names[base]][1], dtype="<f4").astype(np.float64)
    rows = np.frombuffer(stored.data, dtype="<f4").reshape(len(stored.model_ids), -1)
    sims = weighted_cosines(value_weights(layout), m - z, rows.astype(np.float64) - z)
    skip = {names[model], names[base]}
    order = [i for i in np.argsort(-sims, kind="stable") if stored.model_ids[i] not in skip]
    ranked = [(labels[stored.model_ids[i]], float(sims[i])) for i in order[:top]]
    return Scan(ranked, len(stored.model_ids), time.perf_counter() - t0, len(stored.data))


def _ids(session: summaries.Session, repo_ids: Sequence[str]) -> list[int]:
    out = []
    for r in repo_ids:
        row = sketch_store.find_model(session, r)
        if row is None or row.id is None:
            raise KeyError(r)
        out.append(row.id)
    return out
