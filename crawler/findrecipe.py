"""Finding the recipe documents in a card body or a config text, however broken.

Every code block is judged by what it holds, not by its fence's language tag
(a recipe fenced as ```` ```python ````, ```` ```json ```` or ```` ```text ```` is
still a recipe).  For each block, in order, until one reading finds a recipe:

1. the whole block as YAML (JSON is YAML too), each ``---`` document apart,
   with a recipe nested under wrapper keys recognised (:mod:`crawler.recognise`)
   and, when it does not parse, the repairs of :mod:`crawler.repair` (tabs,
   indentation section by section) and the fragment forms of
   :mod:`crawler.fragments`;
2. the YAML-looking runs inside it (YAML mixed with shell or prose,
   :func:`crawler.yamlblocks.yaml_runs_at`);
3. flow mappings across lines (pretty JSON, a Python ``dict`` printed by a
   search script);
4. the recipe read line by line (:func:`crawler.repair.salvage`).

Runs in the prose outside any fence are read when the blocks hold no complete
recipe, and pieces are joined in the order they stand in the card (a fence that
broke in the middle of a recipe leaves its halves on both sides).  The text
handed to the YAML loader is budgeted per input.
"""

from __future__ import annotations

from typing import Any

from kinhub.crawler.fragments import (
    INPUT_KEYS,
    is_model_items,
    is_slice_items,
    join_split_documents,
    read_fragment,
)
from kinhub.crawler.recipe import Recipe, is_recipe_mapping, recipe_from_documents
from kinhub.crawler.recognise import find_recipe, flow_texts, is_header, looks_like_recipe_text
from kinhub.crawler.repair import read_sections, salvage, untab
from kinhub.crawler.yamlblocks import YAML_LANGS, split_markdown, yaml_runs_at
from kinhub.crawler.yamlsafe import load_yaml, split_documents

MAX_YAML_TOTAL_CHARS = 256_000
"""Budget of YAML text one card may hand to the loader across all its blocks."""
MAX_YAML_LOADS = 500
"""Budget of loader calls per input (a card of many tiny YAML-looking runs)."""
_RECIPE_HINTS = ("merge_method", "models", "slices", "experts", "genome", "source_model")


class YamlBudget:
    """Characters of YAML one input may still hand to the loader."""

    def __init__(self, chars: int = MAX_YAML_TOTAL_CHARS, loads: int = MAX_YAML_LOADS) -> None:
        self.left = chars
        self.loads = loads
        self.exhausted = False

    def spend(self, text: str, warnings: list[str]) -> bool:
        """Take ``text`` from the budget; ``False`` (warned once) when it is spent."""
        self.loads -= 1
        if self.left < len(text) or self.loads < 0:
            if not self.exhausted:
                warnings.append("YAML budget of the input exhausted; remaining blocks skipped")
                self.exhausted = True
            return False
        self.left -= len(text)
        return True


def _recipeish(text: str) -> bool:
    return any(hint in text for hint in _RECIPE_HINTS) and looks_like_recipe_text(text)


def _repaired(doc: str, what: str, warnings: list[str]) -> Any:
    """A recipe from YAML that does not parse: tabs, then key-by-key sections."""
    untabbed = untab(doc)
    if untabbed is not None:
        data, _ = load_yaml(untabbed, what=what)
        found, _ = find_recipe(data)
        if found is not None:
            warnings.append(f"{what}: recipe indented with tabs; read with spaces")
            return found
        doc = untabbed
    sections = read_sections(doc)
    if sections is not None and is_recipe_mapping(sections):
        warnings.append(f"{what}: recipe indentation is broken; read key by key")
        return sections
    return None


def recipe_docs(
    text: str, what: str, warnings: list[str], budget: YamlBudget, *, quiet: bool = False
) -> list[Any]:
    """Recipe mappings in ``text`` (one per ``---`` document), plus pieces of a
    recipe: bare ``- model:``/``- sources:`` lists and headers of settings (joined
    later by :func:`crawler.fragments.join_split_documents`).  Load problems are
    reported only for text that looks like a recipe, so unrelated code stays quiet
    (and never when ``quiet``: a block of another language tried whole)."""
    found: list[Any] = []
    for doc in split_documents(text):
        if not budget.spend(doc, warnings):
            return found
        data, problems = load_yaml(doc, what=what)
        if data is None:
            data = read_fragment(doc, warnings)
            if data is not None:
                problems = []
        recipe, path = find_recipe(data)
        if recipe is None and data is None and _recipeish(doc):
            recipe = _repaired(doc, what, warnings)
            if recipe is not None:
                problems = []
        if recipe is not None:
            if path:
                warnings.append(f"{what}: recipe found under {path[:100]!r}")
            found.append(recipe)
            warnings.extend(problems)  # notes such as YAML tags read as plain data
        elif is_model_items(data) or is_slice_items(data) or is_header(data):
            found.append(data)
        elif data is None and problems and not quiet and _recipeish(doc[:20_000]):
            warnings.extend(problems)
    return found


def _complete(documents: list[Any]) -> bool:
    """Do the documents, joined, hold a recipe with its inputs?"""
    joined = join_split_documents(list(documents), [])
    return any(any(key in doc for key in INPUT_KEYS) for doc in joined)


def _block_docs(
    lines: tuple[str, ...], lang: str, what: str, warnings: list[str], budget: YamlBudget
) -> list[Any]:
    text = "\n".join(lines)
    found: list[Any] = []
    whole = lang in YAML_LANGS or _recipeish(text)
    if whole:
        found = recipe_docs(text, what, warnings, budget, quiet=lang not in YAML_LANGS)
    if not _complete(found):
        tried = set(split_documents(text)) if whole else set()
        from_runs: list[Any] = []
        for _, run in yaml_runs_at(lines):
            if run not in tried:
                from_runs.extend(recipe_docs(run, what, warnings, budget))
        if from_runs:
            found = from_runs
            if lang in YAML_LANGS:
                warnings.append(f"{what}: recipe extracted from a block mixing YAML and other text")
    if not found and _recipeish(text):
        for flow in flow_texts(lines):
            found.extend(recipe_docs(flow, what, warnings, budget))
    if not found and _recipeish(text):
        salvaged = salvage(text)
        if salvaged is not None:
            warnings.append(f"{what}: YAML does not parse; recipe read line by line")
            found.append(salvaged)
    return found


def card_recipe(body: str, warnings: list[str]) -> tuple[Recipe | None, list[str]]:
    """The recipe of a card body and the card's prose lines (outside code blocks)."""
    md = split_markdown(body)
    budget = YamlBudget()
    pieces: list[tuple[int, list[Any]]] = []
    raws: list[str] = []
    seen: set[str] = set()
    for index, block in enumerate(md.blocks, start=1):
        text = "\n".join(block.lines)
        if not text.strip() or text in seen:
            continue  # a recipe repeated verbatim is read once
        seen.add(text)
        what = f"code block {index}"
        found = _block_docs(block.lines, block.lang, what, warnings, budget)
        if found:
            if not block.closed:
                warnings.append(f"{what}: code fence is not closed")
            pieces.append((block.position, found))
            raws.append(text)
    if not _complete([doc for _, found in pieces for doc in found]):
        outside = False
        for start, run in yaml_runs_at(md.prose):
            found = recipe_docs(run, "card text", warnings, budget)
            if not found:
                found = _salvaged_run(run, warnings)
            if found:
                pieces.append((start, found))
                raws.append(run)
                outside = outside or any(isinstance(doc, dict) for doc in found)
        if outside:
            warnings.append("recipe YAML found outside any code fence")
    pieces.sort(key=lambda piece: piece[0])
    documents = [doc for _, found in pieces for doc in found]
    joined = join_split_documents(documents, warnings)
    recipe = (
        recipe_from_documents(joined, raw_text="\n---\n".join(raws), warnings=warnings)
        if joined
        else None
    )
    return recipe, list(md.prose)


def _salvaged_run(run: str, warnings: list[str]) -> list[Any]:
    salvaged = salvage(run) if _recipeish(run) else None
    if salvaged is None:
        return []
    warnings.append("card text: YAML does not parse; recipe read line by line")
    return [salvaged]


def config_docs(text: str, warnings: list[str]) -> list[dict[str, Any]]:
    """The recipe documents of a merge config file (YAML, or YAML mixed with text)."""
    budget = YamlBudget()
    documents: list[dict[str, Any]] = []
    for doc in split_documents(text):
        data, problems = load_yaml(doc, what="config")
        warnings.extend(problems)
        recipe, path = find_recipe(data)
        if recipe is None and data is None:
            recipe = _repaired(doc, "config", warnings)
        if isinstance(recipe, dict):
            if path:
                warnings.append(f"config: recipe found under {path[:100]!r}")
            documents.append(recipe)
        elif data is not None:
            warnings.append("config document that is not a merge recipe ignored")
    if not documents:
        tried = set(split_documents(text))
        for _, run in yaml_runs_at(text.split("\n")):
            if run not in tried:
                documents.extend(
                    d for d in recipe_docs(run, "config", warnings, budget) if is_recipe_mapping(d)
                )
        if documents:
            warnings.append("recipe extracted from a config mixing YAML and other text")
    return documents


__all__ = ["MAX_YAML_TOTAL_CHARS", "YamlBudget", "card_recipe", "config_docs", "recipe_docs"]
