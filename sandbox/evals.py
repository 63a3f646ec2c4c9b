"""Card evaluations for generated hubs, with a planted relation between kinship and gain.

So that ``kinhub analyze gain``, ``partners`` and ``plan`` have something to find on a
generated hub, every foundation, fine-tune and (readable-card) merge carries a
``model-index`` with the three :data:`BENCHMARKS`, and a merge's scores are made from
its ingredients' by a rule written down here:

* a foundation scores about 45 (N(45, 3) per benchmark); a fine-tune its foundation's
  scores plus U(2, 10) each;
* a merge scores, on every benchmark, the mean of its ingredients' scores plus its
  **gain** ``g = GAIN_INTERCEPT − GAIN_SLOPE · k + ε`` with ``ε ~ N(0, GAIN_NOISE)``
  (2 − 6·k + N(0, 0.5) points): more related ingredients gain less;
* ``k`` is the mean, over the pairs of the merge's ingredients (the anchor ``base`` of
  ties/dare_ties/task_arithmetic/model_stock is not an ingredient), of the cosine of
  their task vectors against their family's foundation, computed from the generated
  weights — the same ``cs`` the kinship worker measures for the merge's pair jobs when
  the foundation is their base (every anchored merge; slerp/linear merges of two
  fine-tunes, whose nearest common ancestor is the foundation).  Hubs without weights
  use ``k = 0.5``.

Fine-tunes share part of one direction per family (``√ρ·s + √(1−ρ)·e``, ρ uniform in
[0.05, 0.95]), so the cosine of two fine-tunes is about ``√(ρᵢρⱼ)`` and spreads over
(0, 1).  All draws come from generators of their own, so evaluations never change
which repos a hub holds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
from kinhub.sandbox.tensors import State

# (dataset name as the leaderboard writes it, dataset type, metric type)
BENCHMARKS: tuple[tuple[str, str, str], ...] = (
    ("AI2 Reasoning Challenge (25-Shot)", "ai2_arc", "acc_norm"),
    ("HellaSwag (10-Shot)", "hellaswag", "acc_norm"),
    ("MMLU (5-Shot)", "cais/mmlu", "acc"),
)
GAIN_INTERCEPT = 2.0
GAIN_SLOPE = 6.0
GAIN_NOISE = 0.5
FINETUNE_SCALE = 0.005
RHO_RANGE = (0.05, 0.95)
UNKNOWN_KINSHIP = 0.5
LEADERBOARD_URL = "https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard"

Scores = dict[str, float]  # dataset type → score


def shared_direction(like: State, *, seed: int) -> State:
    """One family's common fine-tuning direction (standard normal, shapes of ``like``)."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(w.shape).astype(np.float32) for name, w in like.items()}


def finetuned(base: State, direction: State, *, rho: float, rng: np.random.Generator) -> State:
    """``base + FINETUNE_SCALE·(√rho·s + √(1−rho)·e)`` with ``e`` drawn from ``rng``."""
    out: State = {}
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
    for name, w in base.items():
        e = rng.standard_normal(w.shape)
        out[name] = (w + FINETUNE_SCALE * (a * direction[name] + b * e)).astype(np.float32)
    return out


def task_cosine(a: State, b: State, base: State) -> float | None:
    """Cosine of ``a − base`` and ``b − base`` over the tensors all three share (float64);
    None when a task vector is zero."""
    dot = na = nb = 0.0
    for name, z in base.items():
        if name not in a or name not in b or not a[name].shape == z.shape == b[name].shape:
            continue
        da = a[name].astype(np.float64) - z
        db = b[name].astype(np.float64) - z
        dot += float(np.dot(da.ravel(), db.ravel()))
        na += float(np.dot(da.ravel(), da.ravel()))
        nb += float(np.dot(db.ravel(), db.ravel()))
    if na == 0.0 or nb == 0.0:
        return None
    return dot / math.sqrt(na * nb)


def mean_kinship(ingredients: Sequence[State], base: State | None) -> float | None:
    """Mean :func:`task_cosine` over the ingredient pairs (None: none defined)."""
    if base is None:
        return None
    values = [
        v for x, y in combinations(ingredients, 2) if (v := task_cosine(x, y, base)) is not None
    ]
    return sum(values) / len(values) if values else None


class Scorer:
    """Draws every model's scores (its own generator: the hub's structure never moves)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 17)
        self.scores: dict[str, Scores] = {}

    def rho(self) -> float:
        return self.rng.uniform(*RHO_RANGE)

    def foundation(self, repo_id: str) -> Scores:
        scores = {t: round(self.rng.gauss(45.0, 3.0), 2) for _, t, _ in BENCHMARKS}
        self.scores[repo_id] = scores
        return scores

    def finetune(self, repo_id: str, base: str) -> Scores:
        start = self.scores.get(base) or self.foundation(base)
        scores = {t: round(v + self.rng.uniform(2.0, 10.0), 2) for t, v in start.items()}
        self.scores[repo_id] = scores
        return scores

    def merge(self, repo_id: str, ingredients: Sequence[str], kinship: float | None) -> Scores:
        """Scores of a merge: its known ingredients' mean plus the planted gain."""
        known = [self.scores[i] for i in ingredients if i in self.scores]
        k = UNKNOWN_KINSHIP if kinship is None else kinship
        gain = GAIN_INTERCEPT - GAIN_SLOPE * k + self.rng.gauss(0.0, GAIN_NOISE)
        scores: Scores = {}
        for _, t, _ in BENCHMARKS:
            values = [s[t] for s in known if t in s]
            start = sum(values) / len(values) if values else 45.0
            scores[t] = round(start + gain, 2)
        self.scores[repo_id] = scores
        return scores


def model_index(name: str, scores: Mapping[str, float]) -> str:
    """A ``model-index`` front-matter block as the Open LLM Leaderboard bot writes it
    (empty without scores)."""
    if not scores:
        return ""
    out = f"model-index:\n- name: {name}\n  results:\n"
    for dataset, kind, metric in BENCHMARKS:
        if kind not in scores:
            continue
        out += (
            "  - task:\n      type: text-generation\n      name: Text Generation\n"
            f"    dataset:\n      name: {dataset}\n      type: {kind}\n      split: test\n"
            f"    metrics:\n    - type: {metric}\n      value: {scores[kind]}\n"
            f"    source:\n      url: {LEADERBOARD_URL}?query={name}\n"
            "      name: Open LLM Leaderboard\n"
        )
    return out


__all__ = [
    "BENCHMARKS",
    "GAIN_INTERCEPT",
    "GAIN_NOISE",
    "GAIN_SLOPE",
    "Scorer",
    "finetuned",
    "mean_kinship",
    "model_index",
    "shared_direction",
    "task_cosine",
]
