"""Partial recipes: pieces of one mergekit recipe written apart.

Forms real cards use:

* a fragment of bare ``- model:`` / ``layer_range:`` items (or bare ``- sources:``
  slices) followed by top-level keys (``merge_method:``, ``dtype:``) with no
  ``slices:``/``models:`` key above the items (the author copied the inside of a
  recipe); :func:`read_fragment` turns such a text into one recipe mapping;
* bare ``- sources:`` slices alone: a layer stack even without its key;
* one recipe split over two fences (the slices in one, ``merge_method`` in the
  next), or a broken fence that cut a recipe's settings (``base_model:``,
  ``gate_mode:``) from its inputs; :func:`join_split_documents` joins
  neighbouring documents that only make a recipe together.

Pure functions over text and loaded YAML; they never raise.
"""

from __future__ import annotations

import re
from typing import Any

from kinhub.crawler.recognise import is_header
from kinhub.crawler.yamlsafe import load_yaml

_ITEM = re.compile(r"^-\s+(?:model|sources)\s*:")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:(?:\s|$)")
INPUT_KEYS = ("models", "slices", "modules", "experts", "genome")
"""Keys of a recipe that name its input models."""
MAX_FRAGMENT_LINES = 5_000


def is_model_items(data: Any) -> bool:
    """A YAML list of ``{model: …}`` mappings (the inside of ``models:`` or ``sources:``)."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "model" in item for item in data)
    )


def is_slice_items(data: Any) -> bool:
    """A YAML list of ``{sources: [...]}`` mappings (the inside of ``slices:``)."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and isinstance(item.get("sources"), list) for item in data)
    )


def items_as_inputs(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Bare items → the recipe key they belong under: slices stay slices, model
    items with a ``layer_range`` are slices (one source each, in order), others
    are ``models``."""
    if is_slice_items(items):
        return {"slices": items}
    if any("layer_range" in item for item in items):
        return {"slices": [{"sources": [item]} for item in items]}
    return {"models": items}


def read_fragment(text: str, warnings: list[str]) -> dict[str, Any] | None:
    """A text of bare ``- model:`` items plus top-level recipe keys → one recipe
    mapping, or ``None`` when the text is not of that form.

    The items and the keys are loaded apart (together they are not valid YAML).
    """
    lines = text.split("\n")[:MAX_FRAGMENT_LINES]
    item_lines: list[str] = []
    key_lines: list[str] = []
    target: list[str] | None = None
    for line in lines:
        if _ITEM.match(line):
            target = item_lines
        elif _TOP_KEY.match(line):
            target = key_lines
        elif line.strip() and not line[:1].isspace() and not line.startswith("- "):
            return None
        if target is not None:
            target.append(line)
    if not item_lines or not key_lines:
        return None
    items, _ = load_yaml("\n".join(item_lines), what="recipe fragment")
    keys, _ = load_yaml("\n".join(key_lines), what="recipe fragment")
    if not (is_model_items(items) or is_slice_items(items)) or not isinstance(keys, dict):
        return None
    if "merge_method" not in keys or any(key in keys for key in INPUT_KEYS):
        return None
    warnings.append(
        "recipe assembled from a fragment of '- model:' items without slices:/models: keys"
    )
    return {**keys, **items_as_inputs(items)}


def _has_inputs(doc: dict[str, Any]) -> bool:
    return any(key in doc for key in INPUT_KEYS)


def _has_method(doc: dict[str, Any]) -> bool:
    return "merge_method" in doc or "experts" in doc or "genome" in doc


def _complements(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Neither is a recipe alone (or one is only the settings the other lacks),
    together they are one, and no key is said twice."""
    if set(first) & set(second):
        return False
    for head, rest in ((first, second), (second, first)):
        if is_header(head) and _has_inputs(rest):
            return True
    if (_has_inputs(first) and _has_method(first)) or (_has_inputs(second) and _has_method(second)):
        return False
    both = {**first, **second}
    return _has_inputs(both) and _has_method(both)


def join_split_documents(documents: list[Any], warnings: list[str]) -> list[dict[str, Any]]:
    """Join neighbouring pieces of one recipe (in file order); drop bare item lists
    that join nothing.

    ``documents`` are recipe mappings, headers (settings only, see
    :func:`crawler.recognise.is_header`) and bare item lists; a list becomes
    ``slices``/``models`` of a neighbouring mapping that has a method but no
    inputs.  Bare slices that join nothing stay (a layer stack); model items and
    headers that join nothing are dropped.
    """
    # (mapping, dropped when it joins nothing)
    pieces: list[tuple[dict[str, Any], bool]] = []
    for doc in documents:
        if is_model_items(doc):
            pieces.append((items_as_inputs(doc), True))
        elif is_slice_items(doc):
            pieces.append((items_as_inputs(doc), False))
        elif is_header(doc):
            pieces.append((doc, True))
        elif isinstance(doc, dict):
            pieces.append((doc, False))
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(pieces):
        current, bare = pieces[i]
        if i + 1 < len(pieces) and _complements(current, pieces[i + 1][0]):
            warnings.append("one recipe written over two code blocks; joined")
            out.append({**current, **pieces[i + 1][0]})
            i += 2
            continue
        if not bare:
            out.append(current)
        i += 1
    return out


__all__ = [
    "INPUT_KEYS",
    "is_model_items",
    "is_slice_items",
    "items_as_inputs",
    "join_split_documents",
    "read_fragment",
]
