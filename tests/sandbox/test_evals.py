"""Generated cards carry `model-index` evaluations with the planted gain–kinship relation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from kinhub.crawler.parse import parse_card
from kinhub.sandbox.evals import BENCHMARKS, GAIN_INTERCEPT, GAIN_SLOPE
from kinhub.sandbox.hub import HubManifest, generate_hub


def _average(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores)


def test_generated_cards_carry_evaluations_with_the_planted_gain(tmp_path: Path) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=120, seed=3, weights=True)
    # Foundations, fine-tunes and readable merges have scores on every benchmark, and the
    # parser reads them from the cards.
    scored = [r for r in manifest.repos.values() if r.scores]
    kinds = {r.kind for r in scored}
    assert {"foundation", "finetune", "merge", "lazymerge"} <= kinds
    benchmarks = {kind for _, kind, _ in BENCHMARKS}
    for repo in scored:
        assert set(repo.scores) == benchmarks
        card = (tmp_path / "hub" / repo.id / "README.md").read_text(encoding="utf-8")
        parsed = parse_card(card)
        read = {e.dataset: e.value for e in parsed.evaluations}
        names = {kind: name for name, kind, _ in BENCHMARKS}
        assert read == {names[k]: v for k, v in repo.scores.items()}, repo.id

    # The planted relation: gain over the ingredients = 2 − 6·kinship + small noise, where
    # kinship spreads over (0, 1) (fine-tunes share part of one direction).
    gains, kinships = [], []
    for repo in manifest.repos.values():
        if repo.kind not in ("merge", "lazymerge") or repo.planted_kinship is None:
            continue
        ingredients = [p for p, role in repo.roles.items() if role == "ingredient"]
        known = [manifest.repos[p].scores for p in ingredients if p in manifest.repos]
        if len(known) != len(ingredients) or not all(known):
            continue
        gain = _average(repo.scores) - sum(_average(s) for s in known) / len(known)
        gains.append(gain)
        kinships.append(repo.planted_kinship)
    assert len(gains) >= 15
    assert max(kinships) - min(kinships) > 0.3
    r = float(np.corrcoef(kinships, gains)[0, 1])
    assert r < -0.8
    residual = np.array(gains) - (GAIN_INTERCEPT - GAIN_SLOPE * np.array(kinships))
    assert abs(float(residual.mean())) < 0.5 and float(residual.std()) < 1.0

    # Saved and loaded with the manifest; the same seed gives the same scores.
    again = HubManifest.load(tmp_path / "hub")
    assert {r.id: r.scores for r in again.repos.values()} == {
        r.id: r.scores for r in manifest.repos.values()
    }
    twin = generate_hub(tmp_path / "twin", n_models=120, seed=3, weights=True)
    assert [r.scores for r in twin.repos.values() if r.scores] == [r.scores for r in scored]


def test_weightless_hubs_keep_their_shape_and_get_evaluations(tmp_path: Path) -> None:
    manifest = generate_hub(tmp_path / "hub", n_models=60, seed=1, weights=False)
    merges = [r for r in manifest.repos.values() if r.kind == "merge"]
    assert merges and all(r.scores and r.planted_kinship is None for r in merges)
