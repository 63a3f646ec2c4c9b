"""Reading recipe YAML that does not parse: tabs, broken indentation, flattened lines.

Real cards paste recipes with tab indentation, with one key shifted (the first
line indented, the rest flush, or the other way round), or with every line
flush left after a markdown editor ate the spaces.  Three repairs, tried in
this order by the caller, each a pure function of the text:

* :func:`untab` turns leading tabs into spaces (YAML forbids tab indentation);
* :func:`read_sections` cuts the text at its top-level recipe keys, dedents
  each section by its own key's indentation and loads the sections apart, so a
  key indented differently from its neighbours no longer hides the others;
* :func:`salvage` reads the recipe line by line (``merge_method:``,
  ``base_model:``, ``model:``/``source_model:`` and the ``layer_range:`` after
  each model), for text whose structure is lost; parameters are not kept.

Everything is line based and linear in the text; YAML goes only through
:func:`crawler.yamlsafe.load_yaml`.  Nothing here raises.
"""

from __future__ import annotations

import re
from typing import Any

from kinhub.crawler.yamlsafe import load_yaml

MAX_LINES = 5_000
MAX_SECTIONS = 200
MAX_ENTRIES = 2_000

TOP_KEYS = frozenset(
    {
        "merge_method",
        "base_model",
        "models",
        "slices",
        "modules",
        "experts",
        "shared_experts",
        "gate_mode",
        "experts_per_token",
        "dtype",
        "out_dtype",
        "tokenizer_source",
        "tokenizer",
        "chat_template",
        "parameters",
        "architecture",
        "genome",
        "name",
    }
)
"""Keys a mergekit recipe has at its top level."""
_NESTABLE = frozenset({"base_model", "models", "parameters", "name", "dtype"})
"""Top-level keys that also occur nested (slice bases, module models, parameters)."""

_KEY_LINE = re.compile(r"^(?P<indent>[ ]{0,40})(?P<key>[A-Za-z_][\w\-]{0,40})\s*:(?:\s|$)")
_LEADING_TABS = re.compile(r"^[ \t]+")
_SALVAGE = re.compile(
    r"""^\s{0,40}(?:-\s+)?["']?(?P<key>merge_method|base_model|model|source_model|layer_range"""
    r"""|dtype)["']?\s*:\s*(?P<value>[^#\n]{0,400}?)\s*,?\s*(?:#.{0,400})?$"""
)
_RANGE = re.compile(r"^\[\s*(-?\d{1,6})\s*,\s*(-?\d{1,6})\s*\]$")


def untab(text: str) -> str | None:
    """``text`` with tabs in leading whitespace replaced (two spaces each), or
    ``None`` when no line is indented with tabs."""
    if "\t" not in text:
        return None
    lines = text.split("\n")
    out = []
    changed = False
    for line in lines:
        match = _LEADING_TABS.match(line)
        if match and "\t" in match.group(0):
            changed = True
            line = match.group(0).replace("\t", "  ") + line[match.end() :]
        out.append(line)
    return "\n".join(out) if changed else None


def _yamlish(line: str) -> bool:
    stripped = line.strip()
    return (
        not stripped
        or line[:1] in (" ", "\t")
        or stripped.startswith(("#", "- ", "-\t"))
        or stripped == "-"
        or bool(_KEY_LINE.match(line))
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_sections(text: str) -> dict[str, Any] | None:
    """Load ``text`` section by section, one section per top-level recipe key.

    A key line starts a new section when it can only be top-level (``experts``,
    ``merge_method``, …), or is indented no deeper than the current section's
    key, or less deep than every line of the current section's body (a key that
    falls back toward the left margin).  ``None`` when the text holds anything
    but YAML-looking lines, or when fewer than two sections load.
    """
    lines = text.split("\n")[:MAX_LINES]
    if not all(_yamlish(line) for line in lines):
        return None
    sections: list[tuple[int, list[str]]] = []
    body_indent: int | None = None
    for line in lines:
        match = _KEY_LINE.match(line)
        key = match.group("key") if match else None
        if match and key in TOP_KEYS:
            indent = len(match.group("indent"))
            if (
                not sections
                or key not in _NESTABLE
                or indent <= sections[-1][0]
                or (body_indent is not None and indent < body_indent)
            ):
                if len(sections) >= MAX_SECTIONS:
                    return None
                sections.append((indent, [line]))
                body_indent = None
                continue
        if sections:
            sections[-1][1].append(line)
            if line.strip() and not line.lstrip().startswith("#"):
                body_indent = (
                    _indent(line) if body_indent is None else min(body_indent, _indent(line))
                )
    merged: dict[str, Any] = {}
    for indent, section in sections:
        body = "\n".join(line[min(indent, _indent(line)) :] for line in section)
        data, _ = load_yaml(body, what="recipe section")
        if not isinstance(data, dict):
            return None  # a damaged section: no partial recipe
        for key, value in data.items():
            merged.setdefault(key, value)
    return merged if len(sections) >= 2 else None


def _scalar(value: str) -> str:
    return value.strip().strip("\"'").strip()


def _balanced(text: str) -> bool:
    """Brackets outside quotes pair up: the text lost its layout, not its content."""
    depth = 0
    quote: str | None = None
    for char in text:
        if quote is not None:
            if char == quote or char == "\n":
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def salvage(text: str) -> dict[str, Any] | None:
    """A recipe mapping read line by line, or ``None`` when the text names no
    input model, gives neither a method nor layer ranges nor experts, or is
    damaged (unbalanced brackets: a truncated value is not guessed at)."""
    if not _balanced(text):
        return None
    method: str | None = None
    base: str | None = None
    dtype: str | None = None
    base_indent = 1 << 30
    experts: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for line in text.split("\n")[:MAX_LINES]:
        match = _SALVAGE.match(line)
        if not match:
            continue
        key, value = match.group("key"), _scalar(match.group("value"))
        if key == "merge_method" and method is None and value:
            method = value
        elif key == "dtype" and dtype is None and value:
            dtype = value
        elif key == "base_model" and value and _indent(line) < base_indent:
            base, base_indent = value, _indent(line)
        elif key == "source_model" and value and len(experts) < MAX_ENTRIES:
            experts.append({"source_model": value})
        elif key == "model" and value and len(entries) < MAX_ENTRIES:
            entries.append({"model": value})
        elif key == "layer_range" and entries and "layer_range" not in entries[-1]:
            bounds = _RANGE.match(value)
            if bounds:
                entries[-1]["layer_range"] = [int(bounds.group(1)), int(bounds.group(2))]
    ranged = any("layer_range" in e for e in entries)
    data: dict[str, Any]
    if experts:
        data = {"experts": experts}
    elif entries and (method is not None or ranged):
        data = (
            {"slices": [{"sources": [entry]} for entry in entries]}
            if ranged
            else {"models": entries}
        )
    else:
        return None
    for key, setting in (("merge_method", method), ("base_model", base), ("dtype", dtype)):
        if setting is not None:
            data[key] = setting
    return data


__all__ = ["TOP_KEYS", "read_sections", "salvage", "untab"]
