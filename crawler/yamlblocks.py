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
    r"^(?P<indent> {0,40})(?:models|slices|modules|merge_method|base_model|experts|genome|name"
    r"|dtype|method|gate_mode|tokenizer_source|parameters|-\s+model|-\s+sources)\s*:(?:\s|$)"
)
_RECIPE_DEFINING = re.compile(
    r"^(?:models|slices|modules|merge_method|experts|genome|-\s+sources)\s*:"
)
# A block key at the end of a sentence: "The layers were as follows: slices:".
_GLUED_START = re.compile(r"\S\s+(?P<key>slices)\s*:\s*$")

YAML_LANGS = frozenset({"yaml", "yml", ""})
_TRAILING_FENCE = re.compile(r"^(?P<text>.{0,2000}?\S)\s*```(?P<lang>[A-Za-z]{0,10})\s*$")
_LANG_TAG = re.compile(r"^[A-Za-z][\w+#.\-]{0,30}$")
MAX_GLUED_LINE = 2_000
MAX_FENCE_REPAIRS = 8


@dataclass(frozen=True)
class CodeBlock:
    """A fenced block: its language tag (lower-case, may be empty) and its lines."""

    lang: str
    lines: tuple[str, ...]
    closed: bool
    position: int = 0
    """Number of prose lines before the block (its place among the prose)."""


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


def _trailing_fence(lines: list[str], i: int) -> tuple[str, str] | None:
    """``(text, lang)`` when line ``i`` is prose ending in an opening fence glued to it
    ("Here is the config:```yaml") and the next non-blank line is a YAML key."""
    line = lines[i]
    if "```" not in line or len(line) > MAX_GLUED_LINE:
        return None
    match = _TRAILING_FENCE.match(line)
    if not match or "```" in match.group("text"):
        return None
    lang = (match.group("lang") or "").lower()
    if lang not in YAML_LANGS:
        return None
    for j in range(i + 1, min(i + 4, len(lines))):
        if lines[j].strip():
            return (match.group("text"), lang) if _TOP_KEY.match(lines[j].lstrip()) else None
    return None


def _scan(
    lines: list[str], start: int, out: list[CodeBlock], prose: list[str], repair: bool
) -> int | None:
    """Scan ``lines[start:]`` into ``out`` and ``prose``.  Returns the line to resume
    from when a fence left open at the end is taken as closed by the first bare
    fence of the other kind inside it (```` ~~~ ```` opened, ```` ``` ```` closed),
    else ``None``."""
    fence: str | None = None
    indent = 0
    lang = ""
    current: list[str] = []
    position = 0
    # first bare fence of the other character: (lines of the block before it, its index)
    other_close: tuple[int, int] | None = None
    i = start
    while i < len(lines):
        line = lines[i]
        i += 1
        if fence is None:
            match = _FENCE.match(line) if line.lstrip(" ")[:3] in ("```", "~~~") else None
            if not match:
                glued = _trailing_fence(lines, i - 1)
                if glued is None:
                    prose.append(line)
                    continue
                prose.append(glued[0])
                fence, indent, lang, current = "```", 0, glued[1], []
                position, other_close = len(prose), None
                continue
            fence = match.group("fence")
            indent = len(match.group("indent"))
            info = match.group("info")
            position, other_close = len(prose), None
            if (
                fence[0] == "`"
                and info.rstrip().endswith("```")
                and info.strip().strip("`").strip()
            ):
                # one-line block ```yaml models: [...]```
                body = info.rstrip().rstrip("`")
                lang, glued_key = _open_fence(body)
                out.append(CodeBlock(lang, (glued_key,) if glued_key else (), True, position))
                fence = None
                continue
            lang, glued_key = _open_fence(info)
            current = [glued_key] if glued_key else []
            continue
        stripped = line.strip()
        inner = _FENCE.match(line)
        if stripped.startswith(fence[:3]) and not stripped.strip(fence[0]).strip():
            out.append(CodeBlock(lang, tuple(current), True, position))
            fence = None
        elif (
            inner
            and inner.group("fence")[0] == fence[0]
            and len(inner.group("fence")) >= len(fence)
            and _LANG_TAG.match(inner.group("info").strip())
        ):
            # An opening fence with a language inside an open block: the block was
            # never closed; this line starts the next one.
            out.append(CodeBlock(lang, tuple(current), False, position))
            position, other_close = len(prose), None
            lang, glued_key = _open_fence(inner.group("info"))
            indent = len(inner.group("indent"))
            current = [glued_key] if glued_key else []
        elif stripped.endswith(fence[:3]) and stripped.rstrip(fence[0]).strip():
            # closing fence glued to the last line: "dtype: bfloat16```"
            current.append(_dedent(line.rstrip()[:-3].rstrip(fence[0]), indent))
            out.append(CodeBlock(lang, tuple(current), True, position))
            fence = None
        else:
            if (
                other_close is None
                and stripped[:3] in ("```", "~~~")
                and stripped[0] != fence[0]
                and not stripped.strip(stripped[0]).strip()
            ):
                other_close = (len(current), i - 1)
            current.append(_dedent(line, indent))
    if fence is None:
        return None
    if other_close is not None and repair:
        out.append(CodeBlock(lang, tuple(current[: other_close[0]]), True, position))
        return other_close[1] + 1
    out.append(CodeBlock(lang, tuple(current), False, position))
    return None


def split_markdown(text: str) -> Markdown:
    """Split markdown into fenced code blocks and prose lines; never raises.

    Tolerant of the fences real cards break: an opening fence glued to the end of
    a prose line, a block never closed before the next fence with a language, a
    ``~~~`` block closed by a bare ```` ``` ```` (and the reverse).
    """
    blocks: list[CodeBlock] = []
    prose: list[str] = []
    lines = text.split("\n")
    start: int | None = 0
    repairs = 0
    while start is not None:
        start = _scan(lines, start, blocks, prose, repairs < MAX_FENCE_REPAIRS)
        repairs += 1
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


def _unquote(line: str) -> str:
    """A blockquote line ("> slices:") without its marker."""
    if line.startswith(">"):
        return line[2:] if line.startswith("> ") else line[1:]
    return line


def yaml_runs_at(lines: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    """Stretches of lines that look like a recipe written as plain text, with the
    index of the line each starts at.

    A run starts at a recipe key (``models:``, ``merge_method:``, …) at column 0
    or indented (a markdown indented code block, a string inside code), at a
    block key glued to the end of a sentence ("as follows: slices:"), or at a
    bare ``- model:`` / ``- sources:`` item (a recipe fragment without its
    ``slices:`` key, :mod:`crawler.fragments`); blockquote markers are ignored.
    It ends at the first line that cannot be YAML at that indentation (a shell
    command, ``EOF``, prose, a heading).  Runs are dedented; only runs holding a
    recipe-defining key are returned.
    """
    runs: list[tuple[int, str]] = []
    i, n = 0, len(lines)
    while i < n:
        if ":" not in lines[i]:  # every run starts at a key
            i += 1
            continue
        first = _unquote(lines[i])
        start = _RECIPE_START.match(first)
        glued = None if start else _GLUED_START.search(first[:MAX_GLUED_LINE])
        if not start and not glued:
            i += 1
            continue
        chunk: list[str] = []
        if start:
            indent = len(start.group("indent"))
            j = i
        else:
            assert glued is not None
            indent = 0
            chunk.append(f"{glued.group('key')}:")
            j = i + 1
        prefix = " " * indent
        while j < n:
            line = _unquote(lines[j])
            if line.strip() and not line.startswith(prefix):
                break
            body = line[indent:] if line.strip() else ""
            if not _yamlish(body) or body.startswith("#"):
                break
            chunk.append(body)
            j += 1
        if any(_RECIPE_DEFINING.match(line) for line in chunk) and (
            start or sum(1 for line in chunk if line.strip()) > 1
        ):
            runs.append((i, "\n".join(chunk)))
        i = max(j, i + 1)
    return runs


def yaml_runs(lines: tuple[str, ...] | list[str]) -> list[str]:
    """The texts of :func:`yaml_runs_at`."""
    return [text for _, text in yaml_runs_at(lines)]
