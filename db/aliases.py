"""Renamed repos: old ids the Hub redirects to a model's current id.

The Hub keeps answering for a renamed repo's old id with a redirect to the new one.
The crawler stores the model once, under its current id, and records the old id
here; the old id's row (edges of other models may point at it) gets status
``renamed``.
"""

from __future__ import annotations

from kinhub.db.ids import validate_repo_id
from kinhub.db.models import ModelAlias
from kinhub.db.store import set_status
from sqlmodel import Session, select

RENAMED = "renamed"


def record_alias(session: Session, *, alias: str, repo_id: str) -> bool:
    """Record that ``alias`` now redirects to ``repo_id``, and mark the alias's own row
    (if any, or a new one) ``renamed``.  Idempotent; returns True when something
    changed.  Does not commit.

    Raises:
        InvalidRepoIdError: either id is not a valid Hub id.
    """
    validate_repo_id(alias)
    validate_repo_id(repo_id)
    if alias == repo_id:
        return False
    row = session.get(ModelAlias, alias)
    changed = row is None or row.repo_id != repo_id
    if row is None:
        session.add(ModelAlias(alias=alias, repo_id=repo_id))
    elif row.repo_id != repo_id:
        row.repo_id = repo_id
    set_status(session, alias, RENAMED, f"renamed to {repo_id}")
    session.flush()
    return changed


def resolve_alias(session: Session, repo_id: str) -> str:
    """The current id of ``repo_id`` (itself when it was never renamed); follows chains
    of renames, stopping at a cycle."""
    seen = {repo_id}
    current = repo_id
    while True:
        target = session.exec(select(ModelAlias.repo_id).where(ModelAlias.alias == current)).first()
        if target is None or target in seen:
            return current
        seen.add(target)
        current = target


def aliases_of(session: Session, repo_id: str) -> list[str]:
    """The old ids that redirect to ``repo_id`` directly, sorted."""
    query = select(ModelAlias.alias).where(ModelAlias.repo_id == repo_id)
    return sorted(session.exec(query))
