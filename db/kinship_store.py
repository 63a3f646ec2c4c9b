"""Kinship results: save (idempotent upsert by key) and find a stored measurement.

A result is keyed by everything that determines its value: the three model references
(with a content fingerprint for local folders or the requested revision for Hub ids),
mode, convention, sample fraction and seed.  The stored row carries the resolved
revisions, metric values, intervals, costs, the per-tensor breakdown and what the plan
dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kinhub.db.models import Kinship
from kinhub.db.timeutil import utcnow
from sqlmodel import Session, select


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
    """Stable 64-hex key of one measurement's inputs."""
    doc = {
        "a": a,
        "b": b,
        "base": base,
        "fp": {k: fingerprints.get(k) for k in ("a", "b", "base")},
        "mode": mode,
        "convention": convention,
        "sample": sample_fraction,
        "seed": seed if mode == "sampled" else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def find_kinship(session: Session, *, key: str) -> Kinship | None:
    """The stored measurement with this key, or None."""
    return session.exec(select(Kinship).where(Kinship.pair_key == key)).first()


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
    metrics: dict[str, Any],
    params_compared: int,
    bytes_read: int,
    seconds: float,
    sample_fraction: float | None = None,
    intervals: dict[str, Any] | None = None,
    breakdown: dict[str, Any] | None = None,
    dropped: dict[str, Any] | None = None,
) -> Kinship:
    """Insert or replace the measurement with this key (re-running changes nothing else)."""
    row = find_kinship(session, key=key) or Kinship(pair_key=key, model_a=a, model_b=b, base=base)
    row.model_a, row.model_b, row.base = a, b, base
    row.revision_a = revisions.get("a")
    row.revision_b = revisions.get("b")
    row.revision_base = revisions.get("base")
    row.mode = mode
    row.convention = convention
    row.sample_fraction = sample_fraction
    row.metrics = _finite(metrics)
    row.intervals = intervals or {}
    row.params_compared = params_compared
    row.bytes_read = bytes_read
    row.seconds = seconds
    row.breakdown = _finite(breakdown or {})
    row.dropped = dropped or {}
    row.computed_at = utcnow()
    session.add(row)
    session.flush()
    return row


def _finite(value: Any) -> Any:
    """JSON columns cannot hold NaN on PostgreSQL: store it as None."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
