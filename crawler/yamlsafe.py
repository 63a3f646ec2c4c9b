"""Bounded YAML loading: ``yaml.safe_load`` behind size, alias and depth limits.

Everything the parsers read from YAML goes through :func:`load_yaml`, which
returns plain JSON-compatible data (str keys; dates, bytes and non-finite floats
turned into strings) or ``None`` plus a warning.  It never raises.

Tags: the loader is PyYAML's ``SafeLoader`` with one addition: a tag it does not
know (``!!python/tuple``, ``!!python/object/apply:collections.OrderedDict`` as
evolutionary-merge scripts dump them, ``!custom``) is read as the plain mapping,
list or string under it; no Python object is ever constructed.  The ``OrderedDict``
form (a list of ``[key, value]`` pairs) becomes a mapping.

Why the limits: ``safe_load`` is safe from code execution but not from size.
A "billion laughs" document builds a small graph of shared references that
explodes when walked; the node budget of :func:`to_plain` stops the walk.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import re
from typing import Any

import yaml

logger = logging.getLogger(__name__)

MAX_YAML_CHARS = 128_000
"""Longest YAML text handed to the loader (PyYAML's pure-Python loader is slow)."""
MAX_NODES = 50_000
"""Most nodes (aliases counted every time they are reached) a document may expand to."""
MAX_DEPTH = 60
MAX_STRING_CHARS = 20_000

_DOC_SEPARATOR = re.compile(r"^---(?:\s.*)?$")


MAX_TAGS_NOTED = 5


class _PlainLoader(yaml.SafeLoader):
    """``SafeLoader`` that reads unknown tags as plain data (and notes them)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.ignored_tags: dict[str, None] = {}


def _pairs_to_dict(value: Any) -> Any:
    """``[[[k, v], …]]`` (``OrderedDict``'s apply arguments) → ``{k: v}``; else unchanged."""
    pairs = value[0] if isinstance(value, list) and len(value) == 1 else value
    if isinstance(value, dict):
        # ``!!python/object/apply`` long form: {args: [pairs], dictitems: {...}}
        items = value.get("dictitems")
        if isinstance(items, dict):
            return items
        pairs = value.get("args", [None])[0] if isinstance(value.get("args"), list) else None
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str | int | float | bool)
        for p in pairs
    ):
        return value
    return {p[0]: p[1] for p in pairs}


def _construct_plain(loader: _PlainLoader, node: yaml.Node) -> Any:
    tag = node.tag or ""
    if len(loader.ignored_tags) < MAX_TAGS_NOTED:
        loader.ignored_tags.setdefault(tag.replace("tag:yaml.org,2002:", "!!")[:80], None)
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    else:
        value = None
    if "dict" in tag.lower():
        value = _pairs_to_dict(value)
    return value


_PlainLoader.add_constructor(None, _construct_plain)


class _TooLarge(Exception):
    """Internal: the document expands beyond the node budget or depth."""


def short_error(exc: BaseException, limit: int = 200) -> str:
    """One line describing ``exc``, at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_plain(value: Any, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> Any:
    """Copy ``value`` into JSON-serializable data within a node budget.

    Raises:
        _TooLarge: (internal) when the budget or depth is exceeded.
    """
    budget = [max_nodes]

    def walk(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > max_depth:
            raise _TooLarge
        if item is None or isinstance(item, bool | int):
            return item
        if isinstance(item, float):
            return item if math.isfinite(item) else str(item)
        if isinstance(item, str):
            return item if len(item) <= MAX_STRING_CHARS else item[:MAX_STRING_CHARS]
        if isinstance(item, _dt.date | _dt.datetime | _dt.time):
            return item.isoformat()
        if isinstance(item, bytes | bytearray):
            return f"<{len(item)} bytes>"
        if isinstance(item, dict):
            out: dict[str, Any] = {}
            for key, sub in item.items():
                plain_key = walk(key, depth + 1)
                out[plain_key if isinstance(plain_key, str) else _key_text(plain_key)] = walk(
                    sub, depth + 1
                )
            return out
        if isinstance(item, list | tuple):
            return [walk(sub, depth + 1) for sub in item]
        if isinstance(item, set | frozenset):
            return [walk(sub, depth + 1) for sub in sorted(item, key=repr)]
        return str(item)

    return walk(value, 0)


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _flow_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` (quotes ignored: a cheap upper bound)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


def load_yaml(text: str, *, what: str = "YAML") -> tuple[Any, list[str]]:
    """Parse one YAML document safely; return ``(data, warnings)``.

    ``data`` is ``None`` when the text is too long, does not parse, or expands
    beyond the node budget; a warning then says why.  Never raises.
    """
    if len(text) > MAX_YAML_CHARS:
        return None, [f"{what}: {len(text)} characters exceed the {MAX_YAML_CHARS} limit; skipped"]
    if ("[" in text or "{" in text) and _flow_depth(text) > MAX_DEPTH:
        # PyYAML recurses per level: refuse before it spends seconds hitting the limit.
        return None, [f"{what}: YAML nests deeper than {MAX_DEPTH} levels; skipped"]
    notes: list[str] = []
    try:
        loader = _PlainLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
        if loader.ignored_tags:
            notes.append(f"{what}: YAML tags read as plain data: " + ", ".join(loader.ignored_tags))
    except yaml.YAMLError as exc:
        return None, [f"{what}: YAML does not parse: {short_error(exc)}"]
    except Exception as exc:  # PyYAML leaks ValueError, RecursionError… on odd input
        logger.debug("YAML loader failed", exc_info=True)
        return None, [f"{what}: YAML does not parse: {short_error(exc)}"]
    try:
        return to_plain(data), notes
    except _TooLarge:
        return None, [
            f"{what}: YAML expands beyond {MAX_NODES} nodes or {MAX_DEPTH} levels "
            "(alias bomb?); skipped"
        ]


def split_documents(text: str) -> list[str]:
    """Split a multi-document YAML text at ``---`` lines (each document parsed alone,
    so one broken stage does not hide the others)."""
    docs: list[list[str]] = [[]]
    for line in text.split("\n"):
        if _DOC_SEPARATOR.match(line):
            docs.append([])
        elif line.rstrip() == "...":
            continue
        else:
            docs[-1].append(line)
    return ["\n".join(lines) for lines in docs if any(ln.strip() for ln in lines)]
