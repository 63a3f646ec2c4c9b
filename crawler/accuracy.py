"""How exactly the card parser reads a folder of labelled cards, per class of card.

A labelled card is ``<name>.md`` beside ``<name>.expected.json`` (the fixture
format of ``tests/fixtures``).  The expectation names the card's ``class`` (a
free label such as ``moe_repeat``; ``other`` when absent) and what a reader
would say about it: ``relation``, ``merge_method``, ``base_model``, ``parents``
and ``parent_roles`` (every distinct ``[model, role]`` of the inputs, in order).

A card is *exact* when all five agree.  Edge precision and recall count the
genealogy edges a card yields, ``(relation, model, role)`` for each distinct
input, or ``(relation, base, "parent")`` for a fine-tune, adapter or
quantization with no inputs: a wrong relation or role is a wrong edge, a
parent the card does not have is a false positive (what keeps negatives
honest).  Pure computation: nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinhub.crawler.parse import parse_card

EXACT_KEYS = ("relation", "merge_method", "base_model", "parents", "parent_roles")

Edge = tuple[str | None, str, str]


def parent_roles(out: dict[str, Any]) -> list[list[str]]:
    """Distinct ``[model, role]`` pairs of a parse result's inputs, in order."""
    seen: dict[tuple[str, str], None] = {}
    for item in out.get("inputs", []):
        seen.setdefault((item["model"], item["role"]), None)
    return [list(pair) for pair in seen]


def _edges(view: dict[str, Any]) -> set[Edge]:
    relation = view.get("relation")
    pairs = view.get("parent_roles") or []
    if pairs:
        return {(relation, model, role) for model, role in pairs}
    if view.get("base_model") and relation in ("finetune", "adapter", "quantized"):
        return {(relation, view["base_model"], "parent")}
    return set()


@dataclass(frozen=True)
class CaseResult:
    """One labelled card: what was expected, what the parser said, which keys differ."""

    name: str
    label: str
    expected: dict[str, Any]
    got: dict[str, Any]
    wrong_keys: tuple[str, ...]

    @property
    def exact(self) -> bool:
        return not self.wrong_keys


@dataclass
class ClassScore:
    """Totals of one class of card."""

    label: str
    cases: int = 0
    exact: int = 0
    true_edges: int = 0
    predicted_edges: int = 0
    expected_edges: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.exact / self.cases if self.cases else 1.0

    @property
    def precision(self) -> float:
        return self.true_edges / self.predicted_edges if self.predicted_edges else 1.0

    @property
    def recall(self) -> float:
        return self.true_edges / self.expected_edges if self.expected_edges else 1.0

    def add(self, case: CaseResult) -> None:
        self.cases += 1
        self.exact += case.exact
        want, got = _edges(case.expected), _edges(case.got)
        self.true_edges += len(want & got)
        self.predicted_edges += len(got)
        self.expected_edges += len(want)
        if not case.exact:
            self.misses.append(case.name)


def evaluate_card(name: str, text: str, expected: dict[str, Any]) -> CaseResult:
    """Parse one card and compare it with its expectation on :data:`EXACT_KEYS`."""
    files = expected.get("files_given")
    out = parse_card(text, file=name, files=files).to_json()
    got = {key: out.get(key) for key in EXACT_KEYS if key != "parent_roles"}
    got["parent_roles"] = parent_roles(out)
    want = {key: expected.get(key) for key in EXACT_KEYS if key in expected}
    wrong = tuple(key for key, value in want.items() if got.get(key) != value)
    return CaseResult(name, str(expected.get("class", "other")), want, got, wrong)


def load_cases(folder: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, card text, expectation)`` of every labelled card in ``folder``."""
    cases = []
    for path in sorted(folder.glob("*.md")):
        expected_path = path.with_name(path.stem + ".expected.json")
        if not expected_path.exists():
            continue
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        cases.append((path.name, path.read_bytes().decode("utf-8"), expected))
    return cases


def score(results: Iterable[CaseResult]) -> tuple[dict[str, ClassScore], ClassScore]:
    """Per-class scores (sorted by label) and the total over every card."""
    by_class: dict[str, ClassScore] = {}
    total = ClassScore("all")
    for case in results:
        by_class.setdefault(case.label, ClassScore(case.label)).add(case)
        total.add(case)
    return dict(sorted(by_class.items())), total


def score_folder(folder: Path) -> tuple[dict[str, ClassScore], ClassScore, list[CaseResult]]:
    """Evaluate every labelled card of ``folder``: per-class, total, and each case."""
    results = [evaluate_card(*case) for case in load_cases(folder)]
    by_class, total = score(results)
    return by_class, total, results


__all__ = [
    "EXACT_KEYS",
    "CaseResult",
    "ClassScore",
    "evaluate_card",
    "load_cases",
    "parent_roles",
    "score",
    "score_folder",
]
