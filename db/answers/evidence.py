"""How edge evidence is ranked and grouped: one rule for lineage, export and show.

An edge of the genealogy may be stated by several sources (a mergekit config, a
recipe in the card, the card's prose, its front matter, a Hub tag).  Every reader
shows one edge per (child, parent, relation, role) with all its sources, takes the
parameters and revision of the most trustworthy source, and names the merge method
of the child's most trustworthy recipe.  Those rankings live here, once.

Core queries only (:mod:`kinhub.db.core_tables`): ``kinhub lineage`` uses this
module and must start without importing the ORM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from kinhub.db.core_tables import recipe
from sqlalchemy import select

if TYPE_CHECKING:
    from kinhub.db.core_tables import Reader

# Where an edge was read from, most trustworthy first.  card_prose (read from free
# prose, a guess) ranks below every recipe.
SOURCE_RANK = {
    "mergekit_config": 0,
    "card_recipe": 1,
    "card_prose": 2,
    "card_metadata": 3,
    "hub_tag": 4,
}
# A stated role before the bare "parent" that metadata-only evidence carries.
ROLE_RANK = {"base": 0, "ingredient": 1, "expert": 2, "slice": 3}
# Which recipe names the merge method: the config file's over one found in the card.
RECIPE_PRIORITY = {"mergekit_config": 0, "card_recipe": 1, "card_prose": 2}
_UNRANKED = 9

EdgeKey = tuple[int, int, str, str]  # (child id, parent id, relation, role)
T = TypeVar("T")


def source_rank(source: str) -> int:
    return SOURCE_RANK.get(source, _UNRANKED)


def role_rank(role: str) -> int:
    return ROLE_RANK.get(role, _UNRANKED)


def best_evidence(group: Iterable[T]) -> T:
    """The evidence of the most trustworthy source (its parameters and revision are shown)."""
    return min(group, key=lambda e: source_rank(getattr(e, "source", "")))


def stated_role(roles: Iterable[str]) -> str:
    """The edge's role: the stated one over the bare ``parent`` of folded metadata."""
    return min(roles, key=role_rank)


def group_evidence(rows: Iterable[T]) -> dict[EdgeKey, list[T]]:
    """One edge per (child, parent, relation, role), with every source behind it.

    ``rows`` have ``child_id``, ``parent_id``, ``relation`` and ``role``.
    Metadata-only evidence (role ``parent``: front matter, Hub tags) for a parent
    whose role a recipe states is folded into that edge (the best-ranked role);
    evidence that disagrees on the relation stays a separate edge.
    """
    grouped: dict[EdgeKey, list[T]] = defaultdict(list)
    stated: dict[tuple[int, int, str], list[EdgeKey]] = defaultdict(list)
    for row in rows:
        r: Any = row
        key = (r.child_id, r.parent_id, r.relation, r.role)
        if key not in grouped and key[3] != "parent":
            stated[key[:3]].append(key)
        grouped[key].append(row)
    # Keys by (child, parent, relation): a scan of all keys per key was quadratic
    # (a hub's 35,000 edges took two minutes).
    for key in [k for k in grouped if k[3] == "parent"]:
        specific = stated.get(key[:3])
        if specific:
            target = min(specific, key=lambda k: role_rank(k[3]))
            grouped[target].extend(grouped.pop(key))
    return dict(grouped)


def merge_methods(session: Reader, child_ids: Iterable[int]) -> dict[int, str]:
    """The merge method of each child that has a recipe naming one (best recipe first).

    ``session`` is a Core connection or an ORM session."""
    methods: dict[int, tuple[int, str]] = {}
    ids = sorted(set(child_ids))
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(recipe.c.model_id, recipe.c.source, recipe.c.merge_method).where(
                recipe.c.model_id.in_(ids[start : start + 500])
            )
        )
        for model_id, source, method in rows:
            if not method:
                continue
            rank = RECIPE_PRIORITY.get(source, _UNRANKED)
            if model_id not in methods or rank < methods[model_id][0]:
                methods[model_id] = (rank, method)
    return {model_id: method for model_id, (_rank, method) in methods.items()}


__all__ = [
    "RECIPE_PRIORITY",
    "ROLE_RANK",
    "SOURCE_RANK",
    "EdgeKey",
    "best_evidence",
    "group_evidence",
    "merge_methods",
    "role_rank",
    "source_rank",
    "stated_role",
]
