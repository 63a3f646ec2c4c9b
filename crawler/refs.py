"""Model references as mergekit writes them, turned into Hub ids or unresolved text.

A reference is ``org/name``, ``org/name@revision``, ``base+lora``
(``org/m@r1+org/lora@r2``), a dict ``{model: {path, revision}, lora: {...}}``, a
local path, or a Hugging Face cache path (``.../models--org--name/snapshots/<sha>``).
Only text that passes :func:`db.ids.is_repo_id` becomes a resolved id; everything
else is kept verbatim as an *unresolved* reference and is never used as a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kinhub.db.ids import is_repo_id, is_revision

MAX_REF_CHARS = 300
"""Longest reference kept (the database column holds 300 characters)."""

# The hub forbids "--" inside ids, so the first "--" after the org ends it.
_CACHE_PATH = re.compile(
    r"models--(?P<org>[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}?)--(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}?)"
    r"(?:[/\\]+snapshots[/\\]+(?P<sha>[0-9a-fA-F]{40}))?(?:[/\\]|$)"
)
_HUB_URL = re.compile(
    r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<id>[^/\s?#]{1,96}/[^/\s?#]{1,96})"
    r"(?:/tree/(?P<rev>[^\s?#]{1,200}))?/?$"
)


@dataclass(frozen=True)
class ModelRef:
    """One parsed reference.

    ``model`` is the Hub id when ``resolved`` (a cache path or URL resolves to
    its id), else the text as written (revision and LoRA split off).
    """

    model: str
    revision: str | None = None
    lora: str | None = None
    lora_revision: str | None = None
    resolved: bool = True
    lora_resolved: bool = True

    @property
    def lora_text(self) -> str | None:
        """The LoRA as one reference string (``org/lora@rev``), or ``None``."""
        if self.lora is None:
            return None
        return f"{self.lora}@{self.lora_revision}" if self.lora_revision else self.lora


def resolve_name(text: str) -> tuple[str, bool, str | None]:
    """``(model, resolved, revision_from_path)`` for a reference without ``@``/``+``."""
    if is_repo_id(text):
        return text, True, None
    cache = _CACHE_PATH.search(text)
    if cache:
        repo_id = f"{cache.group('org')}/{cache.group('name')}"
        if is_repo_id(repo_id):
            return repo_id, True, cache.group("sha")
    url = _HUB_URL.match(text)
    if url and is_repo_id(url.group("id")):
        rev = url.group("rev")
        return url.group("id"), True, rev if rev and is_revision(rev) else None
    return text, False, None


def _split_revision(text: str, warnings: list[str]) -> tuple[str, bool, str | None]:
    """Resolve ``text`` that may carry ``@revision``; only split ``@`` off a real id."""
    text = text.strip()
    if "@" in text:
        head, _, rev = text.partition("@")
        model, resolved, path_rev = resolve_name(head.strip())
        if resolved:
            rev = rev.strip()
            if is_revision(rev):
                return model, True, rev
            warnings.append(f"reference {text[:MAX_REF_CHARS]!r}: invalid revision ignored")
            return model, True, path_rev
    model, resolved, path_rev = resolve_name(text)
    return model, resolved, path_rev


def _from_string(text: str, warnings: list[str]) -> ModelRef | None:
    text = text.strip().strip("\"'").strip()
    if not text:
        return None
    if len(text) > MAX_REF_CHARS:
        warnings.append(f"reference of {len(text)} characters truncated")
        text = text[:MAX_REF_CHARS]
    base_text, plus, lora_text = text.partition("+")
    if not plus or not lora_text.strip() or not base_text.strip():
        base_text, lora_text = text, ""
    model, resolved, revision = _split_revision(base_text, warnings)
    if not lora_text:
        return ModelRef(model=model, revision=revision, resolved=resolved)
    lora, lora_resolved, lora_revision = _split_revision(lora_text, warnings)
    return ModelRef(
        model=model,
        revision=revision,
        lora=lora,
        lora_revision=lora_revision,
        resolved=resolved,
        lora_resolved=lora_resolved,
    )


def _path_and_revision(value: Any) -> tuple[str | None, str | None]:
    """``{path, revision}`` or a plain string → ``(path, revision)``."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):
        path = value.get("path", value.get("model"))
        rev = value.get("revision")
        return (path if isinstance(path, str) else None), (rev if isinstance(rev, str) else None)
    return None, None


def _from_dict(value: dict[str, Any], warnings: list[str]) -> ModelRef | None:
    inner = value.get("model", value) if "model" in value else value
    path, revision = _path_and_revision(inner)
    if path is None:
        warnings.append("reference dict without a model path ignored")
        return None
    ref = _from_string(path, warnings)
    if ref is None:
        return None
    if revision is not None:
        rev = revision.strip()
        if ref.resolved and is_revision(rev):
            ref = ModelRef(model=ref.model, revision=rev, resolved=True)
        elif rev:
            warnings.append(f"reference {path[:MAX_REF_CHARS]!r}: invalid revision ignored")
    lora_path, lora_rev = _path_and_revision(value.get("lora"))
    if lora_path:
        lora = _from_string(lora_path, warnings)
        if lora is not None:
            lrev = lora_rev.strip() if lora_rev else lora.revision
            return ModelRef(
                model=ref.model,
                revision=ref.revision,
                lora=lora.model,
                lora_revision=lrev if lrev and lora.resolved and is_revision(lrev) else None,
                resolved=ref.resolved,
                lora_resolved=lora.resolved,
            )
    return ref


def parse_ref(value: Any, warnings: list[str]) -> ModelRef | None:
    """Parse one reference (string or dict form); ``None`` when there is none.

    Problems are appended to ``warnings``; never raises.
    """
    if isinstance(value, str):
        return _from_string(value, warnings)
    if isinstance(value, dict):
        return _from_dict(value, warnings)
    if value is not None:
        warnings.append(f"reference of type {type(value).__name__} ignored")
    return None
