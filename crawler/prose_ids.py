"""Model ids in free prose: links, Hub URLs, bare ``org/name``, and short names.

A card's prose names models in several ways: ``[org/m](https://huggingface.co/org/m)``,
a bare URL, a bare ``org/name`` (often glued to non-Latin text: ``org/m와``,
``org/m、``), or only the short name ``m`` when the full id stands elsewhere on
the card (front matter, a table of links).  :class:`ShortNames` resolves short
names against every full id the card names; :class:`ProseLine` holds one line
as written, made plain, its id spans, and its words with the ids blanked out
(so wording is never matched inside an id such as ``org/Model-upscaled``).

All regexes are bounded and applied per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kinhub.db.ids import is_repo_id

MAX_LINE_CHARS = 4_000
MAX_KNOWN = 500
MIN_SHORT_NAME = 5

_LINK = re.compile(r"\[(?P<text>[^\[\]\n]{0,300})\]\((?P<url>[^()\s]{0,500})\)")
_HF_URL = re.compile(
    r"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<path>[^\s)\]>\"'<]{1,400})"
)
_URL = re.compile(r"https?://\S{1,600}")
# An id standing alone in text: not part of a path, URL or e-mail.  ASCII only, so
# an id glued to Korean, Chinese or Japanese text ("org/m와") ends where the id does.
_BARE_ID = re.compile(
    r"(?<![A-Za-z0-9_/.@:\-])(?P<id>[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95})"
    r"(?![A-Za-z0-9_/@\-])"
)
# A model's short name standing alone ("Beagle14-7B"): no org, not inside an id.
_SHORT = re.compile(r"(?<![A-Za-z0-9_/.@:\-])[A-Za-z0-9][A-Za-z0-9_.\-]{3,95}(?![A-Za-z0-9_/@\-])")
_MODEL_LIKE = re.compile(r"[\d_.\-]")
# Hub "namespaces" and tools whose org/name looks like a model id.
_NOT_MODELS = frozenset(
    {
        "cg123/mergekit",
        "arcee-ai/mergekit",
        "huggingface/transformers",
        "huggingface/peft",
        "hiyouga/llama-factory",
        "unslothai/unsloth",
        "openaccess-ai-collective/axolotl",
        "axolotl-ai-cloud/axolotl",
        "ggerganov/llama.cpp",
        "ggml-org/llama.cpp",
        "mlabonne/llm-autoeval",
    }
)
_LETTER = re.compile(r"[A-Za-z]")
_NOT_ORGS = frozenset({"datasets", "spaces", "docs", "blog", "papers", "collections", "models"})


def hf_model(url: str) -> str | None:
    """The model id of a Hub URL (``None`` for datasets, spaces and other pages)."""
    match = _HF_URL.match(url)
    if not match:
        return None
    parts = match.group("path").split("/")
    if len(parts) < 2 or parts[0].lower() in _NOT_ORGS:
        return None
    repo_id = f"{parts[0]}/{parts[1]}".rstrip(".,;")
    return repo_id if is_repo_id(repo_id) else None


def plain(line: str) -> str:
    """A line with links turned into their model id or label, other URLs removed.

    A link to anything but a Hub model (a dataset, GitHub) is dropped when its
    label looks like an id: ``[org/data](…/datasets/org/data)`` is no model.
    """

    def link(match: re.Match[str]) -> str:
        url = match.group("url")
        repo_id = hf_model(url)
        if repo_id is not None:
            return f" {repo_id} "
        label = match.group("text")
        if url.startswith(("http://", "https://")) and "/" in label:
            return " "
        return f" {label} "

    def bare(match: re.Match[str]) -> str:
        repo_id = hf_model(match.group(0))
        return f" {repo_id} " if repo_id else " "

    text = _LINK.sub(link, line[:MAX_LINE_CHARS])
    text = _URL.sub(bare, text)
    return text.replace("**", " ").replace("`", " ").replace("__", " ")


def id_spans(text: str) -> list[tuple[str, int, int]]:
    """``(id, start, end)`` of every model id in text already made plain."""
    spans: list[tuple[str, int, int]] = []
    for match in _BARE_ID.finditer(text):
        repo_id = match.group("id").rstrip(".-_")
        org = repo_id.partition("/")[0].lower()
        if org in _NOT_ORGS or repo_id.lower() in _NOT_MODELS or not is_repo_id(repo_id):
            continue
        if not all(_LETTER.search(part) for part in repo_id.split("/")):
            continue  # "50/50", "1/2": ratios, not models
        spans.append((repo_id, match.start(), match.end()))
    return spans


def unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def model_ids(line: str) -> list[str]:
    """Hub model ids named in one line (links, HF URLs, bare ``org/name``), in order."""
    return unique(repo_id for repo_id, _, _ in id_spans(plain(line)))


class ShortNames:
    """Short names (``name`` of ``org/name``) of the full ids a card names, each
    resolvable only when one id has it and it looks like a model name (a digit,
    ``-``, ``_`` or ``.`` in it, at least :data:`MIN_SHORT_NAME` characters):
    "Beagle14-7B" resolves, a plain word such as "Mistral" never does."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._by_name: dict[str, str | None] = {}
        for count, repo_id in enumerate(ids):
            if count >= MAX_KNOWN:
                break
            short = repo_id.rpartition("/")[2]
            if len(short) < MIN_SHORT_NAME or not _MODEL_LIKE.search(short):
                continue
            key = short.lower()
            if self._by_name.get(key, repo_id) != repo_id:
                self._by_name[key] = None  # ambiguous: two orgs use the name
            else:
                self._by_name[key] = repo_id

    def __bool__(self) -> bool:
        return any(self._by_name.values())

    def spans(self, text: str, taken: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """``(id, start, end)`` of the short names in ``text`` outside ``taken`` spans."""
        found: list[tuple[str, int, int]] = []
        for match in _SHORT.finditer(text):
            name = match.group(0).rstrip(".-_")
            repo_id = self._by_name.get(name.lower())
            if repo_id is None:
                continue
            start = match.start()
            if any(s <= start < e for _, s, e in taken):
                continue
            found.append((repo_id, start, start + len(name)))
        return found


class ProseLine:
    """One prose line: as written, made plain, its id spans (full ids, then short
    names resolved by ``names``, in text order), and its words with ids blanked."""

    def __init__(self, raw: str, names: ShortNames | None = None) -> None:
        self.raw = raw
        if "/" in raw:
            self.plain = plain(raw)
            self.spans = id_spans(self.plain)
        else:  # no id, no URL: skip the link and id scans
            self.plain = raw.replace("**", "  ").replace("`", " ").replace("__", "  ")
            self.spans = []
        if names:
            self.spans = sorted(
                [*self.spans, *names.spans(self.plain, self.spans)], key=lambda s: s[1]
            )
        self.ids = unique(repo_id for repo_id, _, _ in self.spans)
        masked = list(self.plain)
        for _, start, end in self.spans:
            masked[start:end] = " " * (end - start)
        self.words = "".join(masked)

    def ids_after(self, position: int) -> list[str]:
        return unique(repo_id for repo_id, start, _ in self.spans if start >= position)

    def ids_before(self, position: int) -> list[str]:
        return unique(repo_id for repo_id, _, end in self.spans if end <= position)


__all__ = [
    "MAX_LINE_CHARS",
    "ProseLine",
    "ShortNames",
    "hf_model",
    "id_spans",
    "model_ids",
    "plain",
    "unique",
]
