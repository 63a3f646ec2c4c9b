"""Model-card front matter: finding it (start, unclosed, end of file) and reading it.

:func:`read_front_matter` returns a :class:`FrontMatter` with the declared base
models, relation, tags, license, library, pipeline tag and ``model-index``
evaluations.  Front matter whose YAML does not parse (a mis-indented
``model-index``, tab indentation) still gives its simple top-level keys, read
line by line; Hub-style tags ``base_model:<relation>:<id>`` / ``base_model:<id>``
declare the base (and relation) when the keys do not.  Never raises: broken
input gives empty fields plus warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from kinhub.crawler.refs import parse_ref
from kinhub.crawler.yamlsafe import load_yaml
from kinhub.db.records import EvaluationRecord

Position = Literal["start", "unclosed", "end"]

HUB_RELATIONS = frozenset({"adapter", "merge", "quantized", "finetune"})
MAX_EVALUATIONS = 500
MAX_TAGS = 500
MAX_FRONT_MATTER_LINES = 5_000

_KNOWN_KEYS = frozenset(
    {
        "base_model",
        "base_model_relation",
        "license",
        "tags",
        "library_name",
        "model-index",
        "language",
        "pipeline_tag",
        "datasets",
        "model_name",
    }
)
_TOP_KEY = re.compile(r"^[A-Za-z_][\w\-]*\s*:(?:\s|$)")
_SIMPLE_KEYS = frozenset(
    {"base_model", "base_model_relation", "license", "tags", "library_name", "pipeline_tag"}
)
_LINE_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w\-]{0,60})\s*:\s*(?P<value>.{0,2000}?)\s*$")
_LIST_ITEM = re.compile(r"^\s{0,12}-\s+(?P<item>.{1,2000}?)\s*$")
MAX_SALVAGED_ITEMS = 1_000
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*%?\s*$")


@dataclass(frozen=True)
class FrontMatter:
    """What a card's front matter declares (empty when there is none)."""

    position: Position | None = None
    base_models: list[str] = field(default_factory=list)
    base_models_resolved: list[bool] = field(default_factory=list)
    relation: str | None = None
    tags: list[str] = field(default_factory=list)
    license: str | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    evaluations: list[EvaluationRecord] = field(default_factory=list)


def _is_delimiter(line: str) -> bool:
    return line.rstrip() == "---"


def split_front_matter(text: str, warnings: list[str]) -> tuple[str | None, str, Position | None]:
    """``(front matter text, body, position)``; the body excludes the front matter."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines[:50]) if line.strip()), None)
    if first is not None and _is_delimiter(lines[first]):
        limit = min(len(lines), first + 1 + MAX_FRONT_MATTER_LINES)
        for j in range(first + 1, limit):
            if _is_delimiter(lines[j]) or lines[j].rstrip() == "...":
                return "\n".join(lines[first + 1 : j]), "\n".join(lines[j + 1 :]), "start"
        # Unclosed: take the YAML-looking lines; a markdown heading or prose ends it.
        j = first + 1
        while j < limit:
            line = lines[j]
            if line.startswith("#") or not (
                not line.strip() or line[:1] in (" ", "\t", "-") or _TOP_KEY.match(line)
            ):
                break
            j += 1
        warnings.append("front matter is not closed by '---'")
        return "\n".join(lines[first + 1 : j]), "\n".join(lines[j:]), "unclosed"
    # Front matter at the end of the file: the last two '---' lines, or a last
    # '---' followed by nothing but the metadata (the closing line forgotten).
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
    if last is None:
        return None, text, None
    closed = _is_delimiter(lines[last])
    end = last if closed else last + 1
    lower = max(-1, last - MAX_FRONT_MATTER_LINES)
    for j in range(end - 1, lower, -1):
        if _is_delimiter(lines[j]):
            candidate = "\n".join(lines[j + 1 : end])
            data, _ = load_yaml(candidate, what="front matter")
            if isinstance(data, dict) and _KNOWN_KEYS & set(data):
                warnings.append(
                    "front matter found at the end of the card"
                    + ("" if closed else " (not closed by '---')")
                )
                return candidate, "\n".join(lines[:j]), "end"
            break
        if not closed and not (
            not lines[j].strip() or lines[j][:1] in (" ", "\t", "-") or _TOP_KEY.match(lines[j])
        ):
            break  # prose: no front matter below it
    return None, text, None


def _unquote(text: str) -> str:
    return text.strip().strip("\"'").strip()


def salvage_front_matter(text: str) -> dict[str, Any]:
    """The simple top-level keys of front matter whose YAML does not parse, read
    line by line: ``key: value`` scalars, ``[a, b]`` flow lists, and ``- item``
    lists under an empty key.  Nested blocks (``model-index``) are skipped."""
    data: dict[str, Any] = {}
    current: list[str] | None = None
    for line in text.split("\n")[:MAX_FRONT_MATTER_LINES]:
        if line[:1] not in (" ", "\t", "-"):
            current = None
            match = _LINE_KEY.match(line)
            if not match or match.group("key") not in _SIMPLE_KEYS:
                continue
            key, value = match.group("key"), match.group("value").split(" #")[0].strip()
            if not value:
                current = data.setdefault(key, [])
            elif value.startswith("[") and value.endswith("]"):
                data.setdefault(key, [_unquote(v) for v in value[1:-1].split(",") if v.strip()])
            else:
                data.setdefault(key, _unquote(value))
            continue
        item = _LIST_ITEM.match(line.replace("\t", "  "))
        if current is not None and item and len(current) < MAX_SALVAGED_ITEMS:
            current.append(_unquote(item.group("item")))
    return data


def _tag_declarations(tags: list[str]) -> tuple[list[str], str | None]:
    """Base models and relation declared by Hub-style tags on the card:
    ``base_model:<relation>:<id>`` and ``base_model:<id>`` (the Hub writes these;
    cards copy them)."""
    bases: list[str] = []
    relation: str | None = None
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        parts = tag.split(":", 2)
        if len(parts) == 3 and parts[1] in HUB_RELATIONS:
            relation = relation or parts[1]
            repo_id = parts[2]
        elif len(parts) == 2:
            repo_id = parts[1]
        else:
            continue
        if repo_id and repo_id not in bases:
            bases.append(repo_id.strip())
    return bases, relation


def _str_list(value: Any, what: str, warnings: list[str], limit: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        out: list[str] = []
        for item in value[:limit]:
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                if str(item).strip():
                    out.append(str(item).strip())
            elif item is not None:
                warnings.append(f"{what}: entry of type {type(item).__name__} ignored")
        return out
    warnings.append(f"{what} of type {type(value).__name__} ignored")
    return []


def _scalar(value: Any, what: str, warnings: list[str], limit: int = 200) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        scalars = [v for v in value if isinstance(v, str | int | float)]
        if not scalars:
            return None
        warnings.append(f"{what} is a list; the first entry is used")
        value = scalars[0]
    if isinstance(value, dict):
        warnings.append(f"{what} is a mapping; ignored")
        return None
    text = str(value).strip()
    return text[:limit] or None


def _value(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _NUMBER.match(value[:100])
        if match:
            return float(match.group(1))
    return None


def _name(value: Any, *keys: str) -> str | None:
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str | int | float) and str(value[key]).strip():
                return str(value[key]).strip()[:300]
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()[:300]
    return None


def read_evaluations(model_index: Any, warnings: list[str]) -> list[EvaluationRecord]:
    """``model-index`` → evaluation records (entries without task/dataset/metric skipped)."""
    out: list[EvaluationRecord] = []
    if model_index is None:
        return out
    entries = model_index if isinstance(model_index, list) else [model_index]
    skipped = 0
    for entry in entries:
        results = entry.get("results") if isinstance(entry, dict) else None
        if not isinstance(results, list):
            skipped += 1
            continue
        for result in results:
            if not isinstance(result, dict):
                skipped += 1
                continue
            task = _name(result.get("task"), "type", "name")
            dataset = _name(result.get("dataset"), "name", "type")
            source = _name(result.get("source"), "name", "url")
            metrics = result.get("metrics")
            if not isinstance(metrics, list):
                skipped += 1
                continue
            for metric in metrics:
                metric_name = _name(metric, "type", "name")
                if task is None or dataset is None or metric_name is None:
                    skipped += 1
                    continue
                raw = metric.get("value") if isinstance(metric, dict) else None
                value = _value(raw)
                if value is None and raw is not None:
                    warnings.append(f"model-index: non-numeric value for {metric_name}")
                if len(out) >= MAX_EVALUATIONS:
                    warnings.append(f"model-index: more than {MAX_EVALUATIONS} scores; truncated")
                    return out
                out.append(EvaluationRecord(task, dataset, metric_name, value, source))
    if skipped:
        warnings.append(f"model-index: {skipped} malformed entries skipped")
    return out


def read_front_matter(text: str, warnings: list[str]) -> tuple[FrontMatter, str]:
    """Find and read the front matter of a card; return it and the remaining body."""
    fm_text, body, position = split_front_matter(text, warnings)
    if fm_text is None:
        warnings.append("card has no front matter")
        return FrontMatter(), body
    data, problems = load_yaml(fm_text, what="front matter")
    warnings.extend(problems)
    if data is None:
        data = salvage_front_matter(fm_text)
        if not data:
            return FrontMatter(position=position), body
        warnings.append("front matter YAML does not parse; its simple keys read line by line")
    if not isinstance(data, dict):
        warnings.append("front matter is not a mapping; ignored")
        return FrontMatter(position=position), body
    bases: list[str] = []
    resolved: list[bool] = []
    for item in _str_list(data.get("base_model"), "base_model", warnings, 1_000):
        ref = parse_ref(item, warnings)
        if ref is not None and ref.model not in bases:
            bases.append(ref.model)
            resolved.append(ref.resolved)
    relation = _scalar(data.get("base_model_relation"), "base_model_relation", warnings)
    if relation is not None and relation not in HUB_RELATIONS:
        warnings.append(f"unknown base_model_relation {relation[:50]!r} ignored")
        relation = None
    tags = list(dict.fromkeys(_str_list(data.get("tags"), "tags", warnings, MAX_TAGS)))
    tag_bases, tag_relation = _tag_declarations(tags)
    if not bases:
        for item in tag_bases:
            ref = parse_ref(item, warnings)
            if ref is not None and ref.resolved and ref.model not in bases:
                bases.append(ref.model)
                resolved.append(True)
    relation = relation or (tag_relation if bases else None)
    return (
        FrontMatter(
            position=position,
            base_models=bases,
            base_models_resolved=resolved,
            relation=relation,
            tags=[t[:200] for t in tags],
            license=_scalar(data.get("license"), "license", warnings),
            library_name=_scalar(data.get("library_name"), "library_name", warnings, 100),
            pipeline_tag=_scalar(data.get("pipeline_tag"), "pipeline_tag", warnings, 100),
            evaluations=read_evaluations(data.get("model-index"), warnings),
        ),
        body,
    )
