"""Genealogy told in free prose: merges, MoE experts, self-stacks, base models.

:mod:`crawler.prose` reads mergekit's own generated sentences; this module reads
what people write by hand, in English, Korean, Chinese or German, where the Hub
ids are often the only Latin text:

* "X is a merge of A and B", "A + B" (a heading or a short line), "A와 B를 병합";
* bullet lists of ids under a heading or an intro line such as "Merged models",
  "Models used", "Ingredients", "병합된 모델", "合并的模型", "Verwendete Modelle"
  (an "Experts" heading, or MoE wording, makes them MoE experts);
* "upscaled" / "depth up-scaled" / "self-merge" of one model with itself;
* the base model named only in the body: a "Base model" heading or label,
  "Finetuned from", "a fine-tuned version of X";
* LoRA / QLoRA / adapter wording (the caller decides, with the files, whether
  the weights are an adapter).

Everything found is a guess from prose: the caller stores it as ``card_prose``
evidence, ranked below any recipe.  Regexes are bounded and applied per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from kinhub.db.ids import is_repo_id

MAX_LINE_CHARS = 4_000
MAX_MODELS = 200
MAX_EVIDENCE = 20
MAX_LIST_ITEMS = 1_000
MAX_LINES = 5_000
"""Prose lines read (genealogy is told near the top; this bounds the work on huge cards)."""
_STRUCTURAL = frozenset("#*-+0123456789")
# Lines after a heading / intro line within which its list must start.
LIST_LOOKAHEAD = 4

ProseRelation = Literal["merge", "moe", "finetune", "adapter"]

_LINK = re.compile(r"\[(?P<text>[^\[\]\n]{0,300})\]\((?P<url>[^()\s]{0,500})\)")
_HF_URL = re.compile(
    r"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<path>[^\s)\]>\"'<]{1,400})"
)
_URL = re.compile(r"https?://\S{1,600}")
# An id standing alone in text: not part of a path, URL or e-mail.
_BARE_ID = re.compile(
    r"(?<![\w/.@:\-])(?P<id>[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95})(?![\w/@\-])"
)
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

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.{0,300})$")
_BULLET = re.compile(r"^\s{0,8}(?:[*\-+]|\d{1,3}[.)])\s+(?P<item>.{1,1000})$")
# A label or an intro line ending in a colon ("Models used:", "X is a MoE made with
# the following models using LazyMergekit:"), matched on the line's words.
_LABEL_LINE = re.compile(r"^\s{0,3}(?P<text>[^:：\n]{1,300}?)\s*[:：]\s*$")

_MERGE_LIST = re.compile(
    r"models?\s+merged|merged\s+models?|models?\s+used|used\s+models?|ingredients?"
    r"|source\s+models?|parent\s+models?|component\s+models?|merge\s+(?:components|sources)"
    r"|병합|머지|사용(?:된|한)\s*모델|재료|合并|融合|合併|使用的模型|组成模型|源模型"
    r"|zusammen(?:ge)?f(?:ü|ue)hr|verschm[oe]lz|verwendete\s+modelle|zutaten|quellmodelle"
    r"|gemergte",
    re.IGNORECASE,
)
_EXPERT_LIST = re.compile(r"\bexperts?\b|전문가|专家|專家|experten", re.IGNORECASE)
_MOE_WORDS = re.compile(r"\bmoe\b|mixture[\s\-]of[\s\-]experts|mixtral[\s\-]style", re.I)
_BASE_HEADING = re.compile(
    r"^(?:the\s+)?base[\s_\-]*models?\b|^basismodell|^기반\s*모델|^베이스\s*모델"
    r"|^基础模型|^基座模型|^底座模型|^基礎模型|^finetuned\s+from|^fine-tuned\s+from",
    re.IGNORECASE,
)
_BASE_LABEL = re.compile(
    r"(?:\bbase[\s_\-]*model|\bbasismodell|기반\s*모델|베이스\s*모델|基础模型|基座模型|底座模型"
    r"|基礎模型|\bfine[\s\-]?tuned\s+from(?:\s+model)?)"
    r"(?:\s*\[optional\])?\s*(?:\*\*|__)?\s*[:：]",
    re.IGNORECASE,
)
_FINETUNE_SENTENCE = re.compile(
    r"\b(?:fine[\s\-]?tuned\s+(?:version\s+of|from|on\s+top\s+of)|trained\s+on\s+top\s+of"
    r"|(?:lora|qlora|adapter)\s+(?:for|of|on\s+top\s+of|trained\s+on))\s",
    re.IGNORECASE,
)
_MERGE_WORD = re.compile(
    r"\bmerge[ds]?\b|\bmerging\b|\bblend(?:ed)?\b|\bfrankenmerge\b"
    r"|병합|머지|合并|融合|合併|zusammen(?:ge)?f(?:ü|ue)hr|verschm[oe]lz|\bgemerg",
    re.IGNORECASE,
)
_SELF_WORDS = re.compile(
    r"up[\s\-]?scal(?:ed|ing|e)\b|depth[\s\-]up[\s\-]?scal|\bDUS\b|self[\s\-]?merge"
    r"|with\s+itself|mit\s+sich\s+selbst|자기\s*자신|업스케일|自身|自我合并|自合并",
    re.IGNORECASE,
)
_STACK_WORDS = re.compile(r"up[\s\-]?scal|depth[\s\-]up|\bDUS\b|업스케일", re.IGNORECASE)
_ADAPTER_WORDS = re.compile(r"\b(?:q?lora|adapters?|peft)\b", re.IGNORECASE)
_ADAPTER_ONLY = re.compile(r"\badapter\b", re.IGNORECASE)
_PLUS = re.compile(r"\s\+\s")
_METHODS = (
    ("task arithmetic", "task_arithmetic"),
    ("model stock", "model_stock"),
    ("dare ties", "dare_ties"),
    ("dare_ties", "dare_ties"),
    ("nuslerp", "nuslerp"),
    ("slerp", "slerp"),
    ("passthrough", "passthrough"),
    ("breadcrumbs", "breadcrumbs"),
    ("della", "della"),
    ("karcher", "karcher"),
    ("ties", "ties"),
)


@dataclass(frozen=True)
class ProseFacts:
    """What hand-written prose says about where a model came from.

    ``models`` are the merged models (or experts) as Hub ids, in text order;
    ``base`` is a merge's base, or the parent of a fine-tune / adapter when
    there are no ``models``; ``evidence`` the lines it was read from.
    """

    relation: ProseRelation | None = None
    models: list[str] = field(default_factory=list)
    base: str | None = None
    method: str | None = None
    self_merge: bool = False
    adapter_words: bool = False
    evidence: list[str] = field(default_factory=list)


def _hf_model(url: str) -> str | None:
    """The model id of a Hub URL (``None`` for datasets, spaces and other pages)."""
    match = _HF_URL.match(url)
    if not match:
        return None
    parts = match.group("path").split("/")
    if len(parts) < 2 or parts[0].lower() in _NOT_ORGS:
        return None
    repo_id = f"{parts[0]}/{parts[1]}".rstrip(".,;")
    return repo_id if is_repo_id(repo_id) else None


def _plain(line: str) -> str:
    """A line with links turned into their model id or label, other URLs removed.

    A link to anything but a Hub model (a dataset, GitHub) is dropped when its
    label looks like an id: ``[org/data](…/datasets/org/data)`` is no model.
    """

    def link(match: re.Match[str]) -> str:
        url = match.group("url")
        repo_id = _hf_model(url)
        if repo_id is not None:
            return f" {repo_id} "
        label = match.group("text")
        if url.startswith(("http://", "https://")) and "/" in label:
            return " "
        return f" {label} "

    def bare(match: re.Match[str]) -> str:
        repo_id = _hf_model(match.group(0))
        return f" {repo_id} " if repo_id else " "

    text = _LINK.sub(link, line[:MAX_LINE_CHARS])
    text = _URL.sub(bare, text)
    return text.replace("**", " ").replace("`", " ").replace("__", " ")


def _id_spans(plain: str) -> list[tuple[str, int, int]]:
    """``(id, start, end)`` of every model id in text already made plain."""
    spans: list[tuple[str, int, int]] = []
    for match in _BARE_ID.finditer(plain):
        repo_id = match.group("id").rstrip(".-_")
        org = repo_id.partition("/")[0].lower()
        if org in _NOT_ORGS or repo_id.lower() in _NOT_MODELS or not is_repo_id(repo_id):
            continue
        if not all(_LETTER.search(part) for part in repo_id.split("/")):
            continue  # "50/50", "1/2": ratios, not models
        spans.append((repo_id, match.start(), match.end()))
    return spans


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def model_ids(line: str) -> list[str]:
    """Hub model ids named in one line (links, HF URLs, bare ``org/name``), in order."""
    return _unique([repo_id for repo_id, _, _ in _id_spans(_plain(line))])


class _Line:
    """One prose line: as written, made plain, and with its ids blanked out (so
    words are never matched inside an id such as ``org/Model-upscaled``)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        if "/" in raw:
            self.plain = _plain(raw)
            self.spans = _id_spans(self.plain)
        else:  # no id, no URL: skip the link and id scans
            self.plain = raw.replace("**", "  ").replace("`", " ").replace("__", "  ")
            self.spans = []
        self.ids = _unique([repo_id for repo_id, _, _ in self.spans])
        masked = list(self.plain)
        for _, start, end in self.spans:
            masked[start:end] = " " * (end - start)
        self.words = "".join(masked)

    def ids_after(self, position: int) -> list[str]:
        return _unique([repo_id for repo_id, start, _ in self.spans if start >= position])


def _method(line: str) -> str | None:
    lower = line.lower()
    for words, name in _METHODS:
        if re.search(rf"(?<![a-z]){re.escape(words)}(?![a-z])", lower):
            return name
    return None


class _Reader:
    """State of one pass over the prose lines."""

    def __init__(self) -> None:
        self.list_models: list[str] = []
        self.list_items = 0
        self.list_keys: set[tuple[str, ...]] = set()
        self.list_is_moe = False
        self.list_evidence: list[str] = []
        self.sentence_models: list[str] = []
        self.sentence_evidence: list[str] = []
        self.sentence_method: str | None = None
        self.self_model: str | None = None
        self.self_evidence: str | None = None
        self.stacked = False
        self.base: str | None = None
        self.base_evidence: str | None = None
        self.finetune_parent: str | None = None
        self.finetune_evidence: str | None = None
        # MoE wording on the line that names the models (not anywhere in the card:
        # "unlike MoE models…" makes no merge a MoE).
        self.sentence_moe = False
        self.adapter_words = False
        self.adapter_only = False
        # list collection: "merge" / "moe" / "base" section, lines left before a bullet
        self.section: str | None = None
        self.lookahead = 0
        self.in_list = False

    def _start_section(self, text: str) -> None:
        self.in_list = False
        self.lookahead = LIST_LOOKAHEAD
        if _BASE_HEADING.match(text.strip(" *_#")):
            self.section = "base"
        elif _EXPERT_LIST.search(text) or _MOE_WORDS.search(text):
            self.section = "moe"
        elif (_MERGE_LIST.search(text) or _MERGE_WORD.search(text)) and not self.list_models:
            self.section = "merge"
        else:
            self.section = None

    def line(self, raw: str) -> None:
        if not raw.strip():
            return
        if (
            self.section is None
            and "/" not in raw
            and ":" not in raw
            and "：" not in raw
            and raw.lstrip()[:1] not in _STRUCTURAL
        ):
            # Plain prose without an id, a label or markdown structure: only its
            # words count (cheap substring tests before any regex).
            lower = raw.lower()
            if "lora" in lower or "adapter" in lower or "peft" in lower:
                self._adapter_words(raw)
            return
        line = _Line(raw[:MAX_LINE_CHARS])
        words = line.words
        self._adapter_words(words)
        heading = _HEADING.match(line.raw)
        if heading:
            self._plus_form(line)
            self._start_section(heading.group("text"))
            self._self_form(line)
            return
        bullet = _BULLET.match(line.raw)
        if self.section is not None and (bullet or self.in_list or self.section == "base"):
            if self._section_line(line, bullet is not None):
                return
        elif self.section is not None and not bullet:
            if self.lookahead > 0:
                self.lookahead -= 1
            else:
                self.section = None
        label = _LABEL_LINE.match(line.words)
        if (
            label
            and not line.ids
            and (
                _MERGE_LIST.search(label.group("text"))
                or _MERGE_WORD.search(label.group("text"))
                or _EXPERT_LIST.search(label.group("text"))
                or _BASE_HEADING.match(label.group("text").strip(" *_"))
            )
        ):
            self._start_section(label.group("text"))
            return
        self._base_label(line)
        if not bullet:
            self._plus_form(line)
            self._merge_sentence(line)
        self._self_form(line)
        self._finetune_sentence(line)

    def _adapter_words(self, words: str) -> None:
        if _ADAPTER_WORDS.search(words):
            self.adapter_words = True
            self.adapter_only = self.adapter_only or bool(_ADAPTER_ONLY.search(words))

    def _section_line(self, line: _Line, bullet: bool) -> bool:
        """Handle a line inside a list section; True when it was consumed."""
        ids = line.ids
        if self.section == "base":
            if ids and self.base is None:
                self.base, self.base_evidence = ids[0], line.raw.strip()
                self.section = None
                return True
            self.lookahead -= 1
            if self.lookahead < 0:
                self.section = None
            return False
        label = _BASE_LABEL.search(line.words) if bullet and ids and self.base is None else None
        if label is not None and line.ids_after(label.end()):
            # "- Base model: org/x" inside the list names the base, not an input.
            self.base, self.base_evidence = line.ids_after(label.end())[0], line.raw.strip()
            return True
        if bullet and ids and self.list_items >= MAX_LIST_ITEMS:
            self.section = None
            return True
        if bullet and ids:
            self.in_list = True
            self.list_items += 1
            self.list_keys.add(tuple(ids[:5]))
            # The first id of an item is the model ("org/m, fine-tuned from org/b").
            if ids[0] not in self.list_models and len(self.list_models) < MAX_MODELS:
                self.list_models.append(ids[0])
            if self.section == "moe":
                self.list_is_moe = True
            if len(self.list_evidence) < MAX_EVIDENCE:
                self.list_evidence.append(line.raw.strip())
            return True
        if self.in_list:
            self.section = None
            self.in_list = False
        return False

    def _plus_form(self, line: _Line) -> None:
        """ "A + B" as a title: every part of the line around " + " names an id."""
        if self.sentence_models or len(line.ids) < 2 or len(line.raw) >= 400:
            return
        parts = [p for p in _PLUS.split(line.plain) if p.strip()]
        if len(parts) >= 2 and all(_id_spans(p) for p in parts):
            self.sentence_models = line.ids[:MAX_MODELS]
            self.sentence_evidence = [line.raw.strip()]
            self.sentence_method = _method(line.words)
            self.sentence_moe = bool(_MOE_WORDS.search(line.words))

    def _merge_sentence(self, line: _Line) -> None:
        if self.sentence_models or not line.ids:
            return
        match = (
            _MERGE_WORD.search(line.words)
            or _MERGE_LIST.search(line.words)
            or _MOE_WORDS.search(line.words)
        )
        if not match:
            return
        after = line.ids_after(match.end())
        ids = line.ids
        chosen = after if len(after) >= 2 else ids if len(ids) >= 2 else []
        if chosen:
            self.sentence_models = chosen[:MAX_MODELS]
            self.sentence_evidence = [line.raw.strip()]
            self.sentence_method = _method(line.words)
            self.sentence_moe = bool(_MOE_WORDS.search(line.words))

    def _self_form(self, line: _Line) -> None:
        if self.self_model is None and len(line.ids) == 1 and _SELF_WORDS.search(line.words):
            self.self_model = line.ids[0]
            self.stacked = bool(_STACK_WORDS.search(line.words))
            self.self_evidence = line.raw.strip()

    def _base_label(self, line: _Line) -> None:
        if self.base is not None:
            return
        match = _BASE_LABEL.search(line.words)
        if match:
            ids = line.ids_after(match.end())
            if ids:
                self.base, self.base_evidence = ids[0], line.raw.strip()
            elif not line.words[match.end() :].strip(" *_"):
                self.section, self.lookahead, self.in_list = "base", LIST_LOOKAHEAD, False

    def _finetune_sentence(self, line: _Line) -> None:
        if self.finetune_parent is not None:
            return
        match = _FINETUNE_SENTENCE.search(line.words)
        if match:
            ids = line.ids_after(match.end())
            if ids:
                self.finetune_parent, self.finetune_evidence = ids[0], line.raw.strip()

    def _merge(self) -> ProseFacts | None:
        """The merge (or MoE, or self-merge) the prose describes, if any."""
        models = self.list_models or self.sentence_models
        evidence = self.list_evidence if self.list_models else self.sentence_evidence
        method = None if self.list_models else self.sentence_method
        base = self.base
        distinct = [m for m in models if m != base]
        # The same model listed several times ("experts: a, a, a, a"), or one model
        # "upscaled" / "merged with itself": a self-merge with a single parent.
        repeated = len(self.list_models) == 1 < self.list_items and len(self.list_keys) == 1
        if len(distinct) <= 1 and (self.self_model is not None or repeated):
            single = distinct[0] if distinct else self.self_model or models[0]
            if self.self_model is not None and self.self_model != single:
                return None
            if self.self_evidence:
                evidence = [*evidence, self.self_evidence]
            return ProseFacts(
                relation="merge",
                models=[single],
                method="passthrough" if self.stacked else method,
                self_merge=True,
                adapter_words=self.adapter_words,
                evidence=evidence[:MAX_EVIDENCE],
            )
        if len(distinct) < 2 and base is None:
            return None  # one model and nothing to merge it with
        if not distinct:
            return None
        if base is not None and self.base_evidence:
            evidence = [*evidence, self.base_evidence]
        return ProseFacts(
            relation="moe"
            if (self.list_is_moe if self.list_models else self.sentence_moe)
            else "merge",
            models=models,
            base=base,
            method=method,
            adapter_words=self.adapter_words,
            evidence=evidence[:MAX_EVIDENCE],
        )

    def result(self) -> ProseFacts:
        merge = self._merge()
        if merge is not None:
            return merge
        parent = self.base or self.finetune_parent
        if parent is not None:
            line = self.base_evidence if self.base else self.finetune_evidence
            return ProseFacts(
                relation="adapter" if self.adapter_only else "finetune",
                base=parent,
                adapter_words=self.adapter_words,
                evidence=[line] if line else [],
            )
        return ProseFacts(adapter_words=self.adapter_words)


def read_prose_forms(lines: tuple[str, ...] | list[str]) -> ProseFacts:
    """Read the hand-written genealogy of a card from its prose lines (code blocks
    excluded).  Never raises on text."""
    reader = _Reader()
    for line in lines[:MAX_LINES]:
        reader.line(line)
    return reader.result()


__all__ = ["ProseFacts", "ProseRelation", "model_ids", "read_prose_forms"]
