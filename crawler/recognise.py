"""Recognising a merge recipe by the mergekit keys it holds, whatever wraps it.

A recipe is judged by its content, not by the fence around it or the key it
sits under:

* :func:`looks_like_recipe_text` — a cheap test that a text names mergekit keys
  (bare, quoted as in JSON or a Python ``dict``), so only such text is loaded;
* :func:`find_recipe` — the recipe mapping inside loaded data: the data itself,
  or a mapping nested a few levels under wrapper keys (``dfs_merge:``,
  ``best_config:``, a list of results) that carries a strong signature
  (``merge_method``, ``experts`` of ``source_model`` entries, ``slices`` of
  ``sources``, a ``genome``);
* :func:`flow_texts` — flow mappings written across lines (pretty-printed JSON,
  a Python ``pprint``/``repr`` of a config, ``CONFIG = {...}``), cut out by
  bracket balance so YAML's flow syntax can read them;
* :func:`is_header` — a mapping of top-level settings only (``base_model``,
  ``merge_method``, ``dtype``, …): half of a recipe whose fence broke, joined
  to its neighbour by :mod:`crawler.fragments`.

Pure functions, bounded and linear; nothing here raises.
"""

from __future__ import annotations

import re
from typing import Any

from kinhub.crawler.recipe import is_recipe_mapping

MAX_NODES = 400
MAX_DEPTH = 4
MAX_FLOW_LINES = 2_000
MAX_FLOW_CHARS = 128_000

_KEY_TEXT = re.compile(
    r"""(?:merge_method|source_model|layer_range|\bslices|\bexperts|\bgenome|\bmodels)['"]?\s*:"""
)
_ASSIGN = re.compile(r"^\s{0,40}(?:[A-Za-z_][\w.]{0,60}\s*=\s*|>>>\s*|\.\.\.\s*)?(?=[{\[])")
HEADER_KEYS = frozenset(
    {
        "base_model",
        "merge_method",
        "dtype",
        "out_dtype",
        "gate_mode",
        "experts_per_token",
        "tokenizer_source",
        "architecture",
    }
)


def looks_like_recipe_text(text: str) -> bool:
    """True when ``text`` names a recipe-defining mergekit key (bare or quoted)."""
    return _KEY_TEXT.search(text) is not None


def _strong(data: dict[str, Any]) -> bool:
    """A nested mapping is a recipe only with a signature no other config has."""
    if isinstance(data.get("merge_method"), str) or isinstance(data.get("genome"), dict):
        return True
    experts = data.get("experts")
    if isinstance(experts, list) and any(
        isinstance(e, dict) and "source_model" in e for e in experts
    ):
        return True
    slices = data.get("slices")
    return isinstance(slices, list) and any(isinstance(s, dict) and "sources" in s for s in slices)


def find_recipe(data: Any) -> tuple[Any, str | None]:
    """``(recipe, path)``: ``data`` itself when it is a recipe (path ``None``), else
    the first strongly signed recipe mapping nested under it, breadth first
    (path such as ``"dfs_merge"``); ``(None, None)`` when there is none."""
    if is_recipe_mapping(data):
        return data, None
    if not isinstance(data, dict | list):
        return None, None
    queue: list[tuple[Any, str, int]] = [(data, "", 0)]
    seen = 0
    while queue and seen < MAX_NODES:
        node, path, depth = queue.pop(0)
        seen += 1
        if depth and isinstance(node, dict) and is_recipe_mapping(node) and _strong(node):
            return node, path
        if depth >= MAX_DEPTH:
            continue
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in children:
            if isinstance(child, dict | list):
                queue.append((child, f"{path}.{key}" if path else str(key), depth + 1))
    return None, None


def is_header(data: Any) -> bool:
    """A mapping of top-level recipe settings only, naming a base, method or gate."""
    return (
        isinstance(data, dict)
        and bool(data)
        and set(data) <= HEADER_KEYS
        and bool({"base_model", "merge_method", "gate_mode"} & set(data))
        and all(isinstance(v, str | int | float) for v in data.values())
    )


def _python_literal(text: str) -> str:
    """Python tuples ``(0, 8)`` outside quotes become YAML lists ``[0, 8]``."""
    if "(" not in text:
        return text
    out: list[str] = []
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            char = "["
        elif char == ")":
            char = "]"
        out.append(char)
    return "".join(out)


def flow_texts(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Flow mappings that start a line (after an optional ``NAME =`` or ``>>>``) and
    close when their brackets balance, each as YAML-readable text."""
    found: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        start = _ASSIGN.match(lines[i])
        if not start or not lines[i][start.end() :].startswith("{"):
            i += 1
            continue
        depth, quote, chunk, size = 0, None, [], 0
        j = i
        closed = False
        while j < n and j - i < MAX_FLOW_LINES and size < MAX_FLOW_CHARS:
            line = lines[j] if j > i else lines[j][start.end() :]
            chunk.append(line)
            size += len(line) + 1
            for char in line:
                if quote is not None:
                    if char == quote:
                        quote = None
                elif char in "'\"":
                    quote = char
                elif char in "{[":
                    depth += 1
                elif char in "}]":
                    depth -= 1
            quote = None  # strings do not span lines
            j += 1
            if depth <= 0:
                closed = True
                break
        text = "\n".join(chunk)
        if closed and looks_like_recipe_text(text):
            found.append(_python_literal(text))
        i = max(j, i + 1)
    return found


__all__ = ["HEADER_KEYS", "find_recipe", "flow_texts", "is_header", "looks_like_recipe_text"]
