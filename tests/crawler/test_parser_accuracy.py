"""Generalisation of the card parser, measured on cards it was not tuned on.

``tests/fixtures/heldout/cards`` holds labelled cards in the shapes real cards
take, written together with the development set (``fixtures/dev``) before the
parser rules of issue 19; ``fixtures/heldout2`` was written after the first
held-out measurement, before the parser read it.  Measured first: 39/42 and
19/20 exact; each set's misses showed a general gap that was then fixed (see the
git history), so the figures asserted here are no longer untuned.  The measured
exact accuracy (relation, method, base, parents and their roles all right) must
stay at or above 95 %; edge precision keeps the negatives honest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kinhub.crawler.accuracy import evaluate_card, parent_roles, score, score_folder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize(("folder", "at_least"), [("heldout", 40), ("heldout2", 20)])
def test_held_out_cards_are_read_exactly_at_least_95_percent(folder: str, at_least: int) -> None:
    by_class, total, results = score_folder(FIXTURES / folder / "cards")
    assert total.cases >= at_least
    misses = [(c.name, c.wrong_keys) for c in results if not c.exact]
    assert total.accuracy >= 0.95, (total.accuracy, misses)
    assert total.precision >= 0.95, (total.precision, misses)
    assert {"negative", "ordinary"} <= set(by_class)


def test_development_cards_are_all_read_exactly() -> None:
    _, total, results = score_folder(FIXTURES / "dev" / "cards")
    assert total.cases >= 40
    assert total.accuracy == 1.0, [(c.name, c.wrong_keys) for c in results if not c.exact]


def test_the_measure_counts_wrong_relations_and_extra_parents() -> None:
    card = "# M\n\nM is a merge of a/x and b/y.\n"
    roles = [["a/x", "ingredient"], ["b/y", "ingredient"]]
    right = {"class": "k", "relation": "merge", "parents": ["a/x", "b/y"], "parent_roles": roles}
    wrong = {"class": "k", "relation": "finetune", "base_model": "a/x", "parent_roles": []}
    cases = [evaluate_card("m.md", card, right), evaluate_card("m.md", card, wrong)]
    assert [c.exact for c in cases] == [True, False]
    by_class, total = score(cases)
    assert by_class["k"].accuracy == 0.5
    assert total.precision == 0.5  # the two merge edges are wrong for the second label
    assert total.recall == 2 / 3  # and its fine-tune edge is missed
    assert parent_roles({"inputs": [{"model": "a", "role": "x"}, {"model": "a", "role": "x"}]}) == [
        ["a", "x"]
    ]
