"""Kinship results: store (adding to an existing measurement), find, and rank.

A measurement is keyed by everything that determines its values: the three models
(a Hub repo id with its resolved commit, a local folder with a content fingerprint),
mode, convention, sample fraction and seed; (A, B) and (B, A) share one key and one
row, stored in ``in_key_order``.  Its row carries the plain references (repo ids
without the revision as written), the resolved revisions, links to the model rows of
Hub references, the scalar metrics as REAL columns (``KINSHIP_METRIC_COLUMNS``),
other metrics in ``extra``, intervals, costs, the per-tensor breakdown and what the
plan dropped.

Storing metrics for a key that is already stored *adds* them: asking for ``pcc``
after ``cs`` was stored keeps ``cs``.  A scalar metric whose value is not finite
(NaN: an all-zero task vector) has a NULL column and ``extra[name] = None``, so "was
computed, is NaN" differs from "never computed".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kinhub.db.ids import is_repo_id
from kinhub.db.models import KINSHIP_METRIC_COLUMNS, Kinship, Model
from kinhub.db.timeutil import utcnow
from sqlalchemy import or_
from sqlmodel import Session, col, select


def plain_ref(ref: str) -> str:
    """A Hub reference without its ``@revision`` (``org/a@abc`` → ``org/a``); a local
    folder's path unchanged.  What ``model_a``/``model_b``/``base`` store."""
    repo_id = ref.partition("@")[0]
    return repo_id if is_repo_id(repo_id) else ref


def _identity(ref: str, fingerprint: str | None) -> tuple[str, str]:
    return (plain_ref(ref), fingerprint or "")


def in_key_order(*, a: str, b: str, fingerprints: Mapping[str, str | None]) -> bool:
    """True when (``a``, ``b``) is already the order a measurement is stored in.

    The order is by (plain reference, fingerprint), so it does not depend on how a
    revision was written; for Hub ids it is the jobs' canonical order
    (``model_a < model_b``, then revision).
    """
    return _identity(a, fingerprints.get("a")) <= _identity(b, fingerprints.get("b"))


def kinship_key(
    *,
    a: str,
    b: str,
    base: str,
    fingerprints: Mapping[str, str | None],
    mode: str,
    convention: str,
    sample_fraction: float | None = None,
    seed: int | None = None,
) -> str:
    """Stable 64-hex key of one measurement's inputs, the same for (A, B) and (B, A).

    Each model counts by its plain reference (``plain_ref``: a Hub repo id without the
    revision as written, or a folder's path) and its fingerprint (the resolved commit
    of a Hub id, a content hash of a folder).  So ``org/a``, ``org/a@main`` and
    ``org/a@<sha>`` naming the same commit give the same key, and a repo that moved
    on gives a new one.  A plain ``org/a`` keys as before this rule; rows stored
    earlier under ``org/a@<revision>`` keys are not found and are recomputed once.
    """
    pair = sorted([_identity(a, fingerprints.get("a")), _identity(b, fingerprints.get("b"))])
    doc = {
        "a": pair[0][0],
        "b": pair[1][0],
        "base": plain_ref(base),
        "fp": {"a": pair[0][1] or None, "b": pair[1][1] or None, "base": fingerprints.get("base")},
        "mode": mode,
        "convention": convention,
        "sample": sample_fraction,
        "seed": seed if mode == "sampled" else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def find_kinship(session: Session, *, key: str) -> Kinship | None:
    """The stored measurement with this key, or None."""
    return session.exec(select(Kinship).where(Kinship.pair_key == key)).first()


def stored_metrics(row: Kinship) -> dict[str, Any]:
    """Every metric stored on ``row``, by name; a stored non-finite scalar reads as NaN."""
    out: dict[str, Any] = {}
    for name in KINSHIP_METRIC_COLUMNS:
        value = getattr(row, name)
        if value is not None:
            out[name] = value
        elif name in row.extra:
            out[name] = math.nan
    for name, value in row.extra.items():
        if name not in RESERVED_EXTRA:
            out.setdefault(name, math.nan if value is None else value)
    return out


# Keys of ``extra`` that are not metrics: ``warnings`` (what the measurement was warned
# about, e.g. a base that is not a common ancestor) — kept with the row.
RESERVED_EXTRA = ("warnings",)


def stored_warnings(row: Kinship) -> list[str]:
    """The warnings recorded with ``row``."""
    value = (row.extra or {}).get("warnings")
    return [str(w) for w in value] if isinstance(value, list) else []


def save_kinship(
    session: Session,
    *,
    key: str,
    a: str,
    b: str,
    base: str,
    revisions: Mapping[str, str | None],
    mode: str,
    convention: str,
    metrics: Mapping[str, Any],
    params_compared: int,
    bytes_read: int,
    seconds: float,
    sample_fraction: float | None = None,
    seed: int | None = None,
    intervals: Mapping[str, Any] | None = None,
    breakdown: Mapping[str, Any] | None = None,
    dropped: Mapping[str, Any] | None = None,
    computed_at: datetime | None = None,
    warnings: Sequence[str] | None = None,
) -> Kinship:
    """Insert the measurement with this key, or add ``metrics`` to the stored one.

    Metrics and intervals not named here stay as stored; a per-tensor breakdown replaces
    the stored one only when given.  Costs (``params_compared``, ``bytes_read``,
    ``seconds``) and ``computed_at`` (default: now) describe the latest computation,
    and ``warnings``, when given, replace the recorded ones (``extra["warnings"]``).
    ``model_a``/``model_b``/``base`` store the plain reference (``plain_ref``: the
    repo id of a Hub reference, the path of a folder) and ``revision_a``/``_b``/
    ``_base`` the revisions read (``revisions``; when missing, the revision written in
    the reference).  ``key``'s order is the caller's: store (A, B) in ``in_key_order``.
    Hub references (``org/name[@rev]``) are linked to their model row, created as
    ``pending`` when no crawl has met the model yet; local folders stay unlinked.
    Does not commit.
    """
    plain = {slot: plain_ref(ref) for slot, ref in (("a", a), ("b", b), ("base", base))}
    row = find_kinship(session, key=key)
    if row is None:
        row = Kinship(pair_key=key, model_a=plain["a"], model_b=plain["b"], base=plain["base"])
    row.model_a, row.model_b, row.base = plain["a"], plain["b"], plain["base"]
    row.model_a_id = _model_id(session, a)
    row.model_b_id = _model_id(session, b)
    row.base_id = _model_id(session, base)
    written = {"a": a, "b": b, "base": base}
    row.revision_a = revisions.get("a") or _revision(written["a"])
    row.revision_b = revisions.get("b") or _revision(written["b"])
    row.revision_base = revisions.get("base") or _revision(written["base"])
    row.mode = mode
    row.convention = convention
    row.sample_fraction = sample_fraction
    row.seed = seed if mode == "sampled" else None
    extra = dict(row.extra or {})  # a new dict: JSON columns do not track in-place edits
    for name, value in metrics.items():
        if name in KINSHIP_METRIC_COLUMNS:
            finite = _is_finite(value)
            setattr(row, name, float(value) if finite else None)
            if finite:
                extra.pop(name, None)
            else:
                extra[name] = None
        else:
            extra[name] = _finite(value)
    if warnings is not None:
        extra["warnings"] = list(warnings)
        if not warnings:
            extra.pop("warnings")
    row.extra = extra
    row.intervals = {**(row.intervals or {}), **_finite(dict(intervals or {}))}
    if breakdown:
        row.breakdown = _finite(dict(breakdown))
    row.dropped = dict(dropped or {})
    row.params_compared = params_compared
    row.bytes_read = bytes_read
    row.seconds = seconds
    row.computed_at = computed_at or utcnow()
    session.add(row)
    session.flush()
    return row


def lowest_kinship(
    session: Session,
    *,
    repo_id: str,
    metric: str = "pcc",
    limit: int = 20,
    descending: bool = False,
) -> list[Kinship]:
    """The stored measurements involving ``repo_id`` (as A or B), ordered by ``metric``.

    One indexed query on both backends (``(model_a_id, metric)``/``(model_b_id, metric)``);
    rows without a value for the metric are left out.

    Raises:
        ValueError: ``metric`` has no column (see ``KINSHIP_METRIC_COLUMNS``).
    """
    if metric not in KINSHIP_METRIC_COLUMNS:
        raise ValueError(f"{metric!r} is not one of {', '.join(KINSHIP_METRIC_COLUMNS)}")
    model_id = session.exec(select(Model.id).where(Model.repo_id == repo_id)).first()
    if model_id is None:
        return []
    column = col(getattr(Kinship, metric))
    query = (
        select(Kinship)
        .where(or_(col(Kinship.model_a_id) == model_id, col(Kinship.model_b_id) == model_id))
        .where(column.is_not(None))
        .order_by(column.desc() if descending else column, col(Kinship.id))
        .limit(limit)
    )
    return list(session.exec(query))


def _model_id(session: Session, ref: str) -> int | None:
    """The model row of a Hub reference (``org/name[@rev]``), created ``pending`` if new."""
    repo_id = ref.partition("@")[0]
    if not is_repo_id(repo_id):
        return None  # a local folder (stored by absolute path): nothing to link
    row = session.exec(select(Model).where(Model.repo_id == repo_id)).first()
    if row is None:
        row = Model(repo_id=repo_id, status="pending")
        session.add(row)
        session.flush()
    return row.id


def _revision(ref: str) -> str | None:
    """The revision written in a Hub reference (``org/a@v1`` → ``v1``), else None."""
    repo_id, _, revision = ref.partition("@")
    return (revision or None) if is_repo_id(repo_id) else None


def _is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _finite(value: Any) -> Any:
    """JSON columns cannot hold NaN on PostgreSQL: store it as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
