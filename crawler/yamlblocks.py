"""Finding recipe YAML inside markdown: fenced blocks, glued fences, shell heredocs,
and YAML written straight into the prose.

Line-based scanning only (no regex spans across lines), so run time is linear in
the card size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Fences may be indented (inside list items); their content is dedented to match.
_FENCE = re.compile(r"^(?P<indent> {0,12})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_YAML_LANG = re.compile(r"^(?P<lang>ya?ml)(?P<rest>.*)$", re.IGNORECASE)
_GLUED_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:(?:\s|$)")
_RECIPE_START = re.compile(
    r"^(?P<indent> {0,8})(?:models|slices|modules|merge_method|base_model|experts|genome|name"
    r"|dtype|method|gate_mode|tokenizer_source|parameters|-\s+model)\s*:(?:\s|$)"
)
_RECIPE_DEFINING = re.compile(r"^(?:models|slices|modules|merge_method|experts|genome)\s*:")

YAML_LANGS = frozenset({"yaml", "yml", ""})


@dataclass(frozen=True)
class CodeBlock:
    """A fenced block: its language tag (lower-case, may be empty) and its lines."""

    lang: str
    lines: tuple[str, ...]
    closed: bool


@dataclass(frozen=True)
class Markdown:
    """A card body split into fenced blocks and the prose lines outside them."""

    blocks: tuple[CodeBlock, ...]
    prose: tuple[str, ...]


def _open_fence(info: str) -> tuple[str, str | None]:
    """Fence info string → ``(lang, glued first line or None)``.

    Handles ```` ```yamlmodels: ```` and ```` ```models: ```` (a key glued to the fence).
    """
    info = info.strip()
    match = _YAML_LANG.match(info)
    if match:
        rest = match.group("rest")
        if rest.strip() and _GLUED_KEY.match(rest.strip()):
            return "yaml", rest.strip()
        if not rest.strip() or rest[:1].isspace():
            return "yaml", None
    if _GLUED_KEY.match(info):
        return "", info
    return (info.split()[0].lower() if info else ""), None


def _dedent(line: str, indent: int) -> str:
    """Remove up to ``indent`` leading spaces (the fence's own indentation)."""
    if not indent:
        return line
    stripped = line.lstrip(" ")
    return line[min(indent, len(line) - len(stripped)) :]


def split_markdown(text: str) -> Markdown:
    """Split markdown into fenced code blocks and prose lines; never raises."""
    blocks: list[CodeBlock] = []
    prose: list[str] = []
    fence: str | None = None
    indent = 0
    lang = ""
    current: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if not match:
                prose.append(line)
                continue
            fence = match.group("fence")
            indent = len(match.group("indent"))
            info = match.group("info")
            if (
                fence[0] == "`"
                and info.rstrip().endswith("```")
                and info.strip().strip("`").strip()
            ):
                # one-line block ```yaml models: [...]```
                body = info.rstrip().rstrip("`")
                lang, glued = _open_fence(body)
                blocks.append(CodeBlock(lang, (glued,) if glued else (), True))
                fence = None
                continue
            lang, glued = _open_fence(info)
            current = [glued] if glued else []
            continue
        stripped = line.strip()
        if stripped.startswith(fence[:3]) and not stripped.strip(fence[0]).strip():
            blocks.append(CodeBlock(lang, tuple(current), True))
            fence = None
        elif stripped.endswith(fence[:3]) and stripped.rstrip(fence[0]).strip():
            # closing fence glued to the last line: "dtype: bfloat16```"
            current.append(_dedent(line.rstrip()[:-3].rstrip(fence[0]), indent))
            blocks.append(CodeBlock(lang, tuple(current), True))
            fence = None
        else:
            current.append(_dedent(line, indent))
    if fence is not None:
        blocks.append(CodeBlock(lang, tuple(current), False))
    return Markdown(tuple(blocks), tuple(prose))


def _yamlish(line: str) -> bool:
    """Could this line belong to a YAML mapping that began at column 0?"""
    if not line.strip():
        return True
    if line[:1] in (" ", "\t", "#"):
        return True
    if line.startswith(("- ", "---")) or line == "-":
        return True
    return bool(_TOP_KEY.match(line))


def yaml_runs(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Stretches of lines that look like a recipe written as plain text.

    A run starts at a recipe key (``models:``, ``merge_method:``, …) at column 0
    or indented by up to 8 spaces (a markdown indented code block), and ends at
    the first line that cannot be YAML at that indentation (a shell command,
    ``EOF``, prose, a heading).  A run may also start at a bare ``- model:`` item
    (a recipe fragment without its ``slices:`` key, :mod:`crawler.fragments`).
    Runs are dedented; only runs holding a recipe-defining key are returned.
    """
    runs: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        start = _RECIPE_START.match(lines[i])
        if not start:
            i += 1
            continue
        indent = len(start.group("indent"))
        prefix = " " * indent
        chunk: list[str] = []
        j = i
        while j < n:
            line = lines[j]
            if line.strip() and not line.startswith(prefix):
                break
            body = line[indent:] if line.strip() else ""
            if not _yamlish(body) or body.startswith("#"):
                break
            chunk.append(body)
            j += 1
        if any(_RECIPE_DEFINING.match(line) for line in chunk):
            runs.append("\n".join(chunk))
        i = max(j, i + 1)
    return runs
