"""Which pair jobs a big recipe gets: at most ``max_pair_jobs`` per merge, the
heaviest-weighted ingredients' pairs first (one recipe never floods the queue)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from kinhub.db.jobs.names import DEFAULT_MAX_PAIR_JOBS


def ingredient_weight(parameters: Any) -> float | None:
    """The ``weight`` an edge's merge parameters give its ingredient: a number, or
    the mean of a gradient list / of conditional ``value`` entries; None when absent."""
    weight = parameters.get("weight") if isinstance(parameters, dict) else None
    items = weight if isinstance(weight, list) else [weight]
    numbers: list[float] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("value")
        if isinstance(item, int | float) and not isinstance(item, bool) and math.isfinite(item):
            numbers.append(float(item))
    return sum(numbers) / len(numbers) if numbers else None


def ranked_pairs(ranking: list[tuple[float | None, str]], limit: int) -> Iterator[tuple[int, int]]:
    """At most ``limit`` pairs of indices into ``ranking`` (``(weight, repo id)`` per
    ingredient), heaviest ingredients first.

    The rule: ingredients are ranked by weight, heaviest first (no weight: after every
    weighted one), ties by repo id; pairs come in the order of their lower-ranked
    member, then of the other — every pair among the top *k* before any pair with
    the (*k*+1)-th.  So the first 100 pairs are the 91 pairs of the 14 heaviest
    ingredients and 9 of the 15th with the 9 heaviest.  Lazy: a 2,000-ingredient
    recipe never builds its ~2,000,000 pairs."""
    order = sorted(
        range(len(ranking)),
        key=lambda i: (ranking[i][0] is None, -(ranking[i][0] or 0.0), ranking[i][1]),
    )
    count = 0
    for j in range(1, len(order)):
        for i in range(j):
            if count >= limit:
                return
            count += 1
            yield order[i], order[j]


__all__ = ["DEFAULT_MAX_PAIR_JOBS", "ingredient_weight", "ranked_pairs"]
