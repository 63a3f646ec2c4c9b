"""Finding recipe YAML inside markdown: fenced blocks, glued fences, shell heredocs,
and YAML written straight into the prose.

Line-based scanning only (no regex spans across lines), so run time is linear in
the card size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_YAML_LANG = re.compile(r"^(?P<lang>ya?ml)(?P<rest>.*)$", re.IGNORECASE)
_GLUED_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:(?:\s|$)")
_RECIPE_START = re.compile(
    r"^(?:models|slices|modules|merge_method|base_model|experts|genome|name|dtype|method"
    r"|gate_mode|tokenizer_source|parameters)\s*:(?:\s|$)"
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


def split_markdown(text: str) -> Markdown:
    """Split markdown into fenced code blocks and prose lines; never raises."""
    blocks: list[CodeBlock] = []
    prose: list[str] = []
    fence: str | None = None
    lang = ""
    current: list[str] = []
    for line in text.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if not match:
                prose.append(line)
                continue
            fence = match.group("fence")
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
            current.append(line.rstrip()[:-3].rstrip(fence[0]))
            blocks.append(CodeBlock(lang, tuple(current), True))
            fence = None
        else:
            current.append(line)
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
    """Stretches of lines that look like a recipe written at column 0.

    A run starts at a top-level recipe key (``models:``, ``merge_method:``, …)
    and ends at the first line that cannot be YAML (a shell command, ``EOF``,
    prose).  Only runs holding a recipe-defining key are returned.
    """
    runs: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        if not _RECIPE_START.match(lines[i]):
            i += 1
            continue
        j = i
        while j < n and _yamlish(lines[j]) and not lines[j].startswith("#"):
            j += 1
        chunk = lines[i:j]
        if any(_RECIPE_DEFINING.match(line) for line in chunk):
            runs.append("\n".join(chunk))
        i = max(j, i + 1)
    return runs
