"""Stored weight checks: one verdict per (child, parent) edge pair, and the reads that
``lineage``, ``show`` and ``stats`` make of them (Core queries, so they start fast).

See :mod:`kinhub.kinship.weight_check` for the rules.  Writers do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kinhub.db.core_tables import edge, weight_check
from sqlalchemy import delete, func, insert, literal_column, select

if TYPE_CHECKING:
    from kinhub.db.core_tables import Reader

UNCHECKED = {"verdict": "unverified", "reason": "not checked: no sketches (run `kinhub sketch`)"}
"""What an edge the check applies to shows until its models are sketched and judged."""
CHECKED_RELATIONS = ("merge", "finetune")
"""Relations the check applies to; others (adapter, quantized, moe) are unverified."""
NOT_APPLICABLE_ROLES = {
    "slice": "passthrough slices: layer ranges, not combined weights",
    "expert": "MoE expert: kept side by side, not combined",
}


def not_applicable(relation: str, role: str) -> str | None:
    """Why the check does not apply to an edge of ``relation``/``role``, or None."""
    if relation not in CHECKED_RELATIONS:
        return f"does not apply to {relation} edges"
    return NOT_APPLICABLE_ROLES.get(role)


def replace_checks(session: Reader, child_id: int, rows: Iterable[dict[str, Any]]) -> int:
    """Replace every stored check of ``child_id`` with ``rows`` (dicts with parent_id,
    verdict, rule, score, threshold, base, evidence, checked_at).  Returns how many."""
    session.execute(delete(weight_check).where(weight_check.c.child_id == child_id))
    values = [{**row, "child_id": child_id} for row in rows]
    if values:
        session.execute(insert(weight_check), values)
    return len(values)


def checks_for(session: Reader, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Any]:
    """The stored check of each (child_id, parent_id) in ``pairs`` that has one."""
    out: dict[tuple[int, int], Any] = {}
    children = sorted({c for c, _ in pairs})
    for start in range(0, len(children), 500):
        chunk = children[start : start + 500]
        for row in session.execute(select(weight_check).where(weight_check.c.child_id.in_(chunk))):
            if (row.child_id, row.parent_id) in pairs:
                out[(row.child_id, row.parent_id)] = row
    return out


def check_json(row: Any) -> dict[str, Any]:
    """The ``weight_check`` object of a lineage edge from a stored row (``reason``: why
    an edge is unverified, as in the objects of edges not checked)."""
    reason = (row.evidence or {}).get("reason")
    return {
        "verdict": row.verdict,
        **({"reason": reason} if reason else {}),
        "score": row.score,
        "threshold": row.threshold,
        "base": row.base,
        "evidence": row.evidence,
        "checked_at": row.checked_at.isoformat() if row.checked_at else None,
    }


def verdict_counts(session: Reader) -> dict[str, int]:
    """Merge and fine-tune edge pairs (child, parent) by verdict; pairs with no stored
    check count as unverified."""
    pairs = (
        select(edge.c.child_id, edge.c.parent_id)
        .where(edge.c.relation.in_(CHECKED_RELATIONS))
        .where(edge.c.role.not_in(tuple(NOT_APPLICABLE_ROLES)))
        .distinct()
        .subquery()
    )
    verdict = func.coalesce(weight_check.c.verdict, literal_column("'unverified'"))
    joined = (
        select(verdict, func.count())
        .select_from(
            pairs.outerjoin(
                weight_check,
                (weight_check.c.child_id == pairs.c.child_id)
                & (weight_check.c.parent_id == pairs.c.parent_id),
            )
        )
        .group_by(verdict)
    )
    counts = {"consistent": 0, "contradicted": 0, "unverified": 0}
    for found, n in session.execute(joined):
        counts[str(found)] = counts.get(str(found), 0) + int(n)
    return counts


def checks_of(session: Reader, model_id: int, *, parents: bool) -> dict[str, Any]:
    """The stored checks of ``model_id``'s parent edges (``parents``) or child edges,
    by the other model's repo id."""
    from kinhub.db.core_tables import model

    mine, other = (
        (weight_check.c.child_id, weight_check.c.parent_id)
        if parents
        else (weight_check.c.parent_id, weight_check.c.child_id)
    )
    rows = session.execute(
        select(model.c.repo_id, weight_check)
        .join(model, model.c.id == other)
        .where(mine == model_id)
    )
    return {row.repo_id: row for row in rows}


def edge_check(checks: dict[str, Any], other: str, relation: str, role: str) -> dict[str, Any]:
    """The ``weight_check`` object of an edge to ``other`` (stored, not applicable, or
    not checked yet)."""
    reason = not_applicable(relation, role)
    if reason is not None:
        return {"verdict": "unverified", "reason": reason}
    found = checks.get(other)
    return check_json(found) if found is not None else dict(UNCHECKED)
