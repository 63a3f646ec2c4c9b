"""Renamed repos: old ids the Hub redirects to a model's current id.

The Hub keeps answering for a renamed repo's old id with a redirect to the new one,
and keeps the repo's object id (``_id``).  The crawler stores the model once, under
its current id, and records the old id here — found either by following a redirect
or by meeting a stored object id under a new repo id in a listing.  The old id's row
stays (edges of other models may point at it) with status ``renamed`` and without
facts of its own (its edges, recipes, evaluations and texts now belong to the new
id's row).
"""

from __future__ import annotations

from collections.abc import Iterable

from kinhub.db.ids import validate_repo_id
from kinhub.db.models import Edge, Evaluation, HubObject, Model, ModelAlias, ModelText, Recipe
from kinhub.db.store import set_status
from sqlalchemy import delete
from sqlmodel import Session, col, select

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
    old = session.exec(select(Model.id).where(Model.repo_id == alias)).first()
    if old is not None:
        # Its own facts are the new id's now: one model, not two.
        for table, column in (
            (Edge, Edge.child_id),
            (Recipe, Recipe.model_id),
            (Evaluation, Evaluation.model_id),
            (ModelText, ModelText.model_id),
        ):
            session.execute(delete(table).where(col(column) == old))
    session.flush()
    return changed


def note_hub_ids(session: Session, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Remember each ``(hub_id, repo_id)`` (the Hub's object id of a listed or fetched
    repo); an object id already stored under another repo id is a rename: it is
    recorded (:func:`record_alias`) and returned as ``(old id, new id)``.  Does not
    commit."""
    wanted = dict(pairs)
    if not wanted:
        return []
    known: dict[str, HubObject] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):  # SQLite caps the bound parameters
        chunk = ids[start : start + 500]
        for found in session.exec(select(HubObject).where(col(HubObject.hub_id).in_(chunk))):
            known[found.hub_id] = found
    renames: list[tuple[str, str]] = []
    for hub_id, repo_id in wanted.items():
        row = known.get(hub_id)
        if row is None:
            session.add(HubObject(hub_id=hub_id, repo_id=repo_id))
        elif row.repo_id != repo_id:
            renames.append((row.repo_id, repo_id))
            row.repo_id = repo_id
    session.flush()
    for old, new in renames:
        record_alias(session, alias=old, repo_id=new)
    return renames


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
