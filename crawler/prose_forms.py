"""Genealogy told in free prose: merges, MoE experts, self-stacks, base models.

:mod:`crawler.prose` reads mergekit's own generated sentences; this module reads
what people write by hand, in English, Korean, Chinese, Japanese or German, where
the Hub ids are often the only Latin text (the wording is the phrase table of
:mod:`crawler.prose_phrases`, the ids are found by :mod:`crawler.prose_ids`):

* "X is a merge of A, B, C and D", "A merged with B", "A + B" (a heading or a
  short line), "A와 B를 병합", "A、B和C组成的混合专家"; a base named in the same
  sentence ("on top of X", "X as the base");
* bullet or numbered lists of ids under a heading or an intro line such as
  "Merged models", "Models used", "Ingredients", "병합된 모델", "合并的模型",
  "Verwendete Modelle", "I merged these models with TIES on top of X:" (an
  "Experts" heading, or MoE wording, makes them MoE experts);
* "upscaled" / "depth up-scaled" / "self-merge" of one model with itself, and
  layers of several models interleaved (a passthrough stack);
* the base model named only in the body: a "Base model" heading or label,
  "Finetuned from", "a fine-tuned version of X";
* LoRA / QLoRA / adapter wording (the caller decides, with the files, whether
  the weights are an adapter).

Lines wrapped inside a paragraph are read as one line; a model named by its
short name ("Beagle14-7B") is resolved against the full ids the card names
elsewhere (front matter, links).  Everything found is a guess from prose: the
caller stores it as ``card_prose`` evidence, ranked below any recipe.  Regexes
are bounded and applied per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kinhub.crawler.prose_ids import MAX_LINE_CHARS, ProseLine, ShortNames, id_spans, model_ids
from kinhub.crawler.prose_phrases import (
    ADAPTER_ONLY,
    ADAPTER_WORDS,
    BASE_AFTER_ID,
    BASE_BEFORE_ID,
    BASE_HEADING,
    BASE_LABEL,
    BULLET,
    EXPERT_LIST,
    FINETUNE_SENTENCE,
    GENEALOGY_WORDS,
    HEADING,
    LABEL_LINE,
    MERGE_LIST,
    MERGE_WORD,
    MOE_WORDS,
    PLUS,
    SELF_MOE,
    SELF_WORDS,
    STACK_WORDS,
    TABLE_ROW,
    method_named,
)

MAX_MODELS = 200
MAX_EVIDENCE = 20
MAX_LIST_ITEMS = 1_000
MAX_LINES = 5_000
"""Prose lines read (genealogy is told near the top; this bounds the work on huge cards)."""
_STRUCTURAL = frozenset("#*-+0123456789")
# Lines after a heading / intro line within which its list must start.
LIST_LOOKAHEAD = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")

ProseRelation = Literal["merge", "moe", "finetune", "adapter"]


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


def _text_line(line: str) -> bool:
    """A line of running text (not blank, a heading, a list item, a table row, a fence)."""
    stripped = line.strip()
    return bool(
        stripped
        and not HEADING.match(line)
        and not BULLET.match(line)
        and not TABLE_ROW.match(line)
        and not stripped.startswith(("<", ">", "```", "~~~", "---", "==="))
    )


def sentences(lines: Iterable[str]) -> list[str]:
    """The prose as sentences: the soft-wrapped lines of each paragraph joined (up
    to :data:`MAX_LINE_CHARS`), then cut after sentence ends; headings, list items
    and table rows stay lines of their own."""
    joined: list[str] = []
    joinable = False
    for count, line in enumerate(lines):
        if count >= MAX_LINES:
            break
        text = _text_line(line)
        if (
            text
            and joinable
            and not joined[-1].rstrip().endswith((":", "："))
            and len(joined[-1]) + len(line) < MAX_LINE_CHARS
        ):
            joined[-1] = f"{joined[-1].rstrip()} {line.strip()}"
        else:
            joined.append(line)
        joinable = text
    out: list[str] = []
    for line in joined:
        out.extend(_SENTENCE_END.split(line) if _text_line(line) else [line])
    return out


def _base_in(line: ProseLine) -> str | None:
    """The base a merge sentence names: an id after "on top of" / "base model:",
    or before "as the base"."""
    before = BASE_BEFORE_ID.search(line.words)
    if before:
        after_ids = line.ids_after(before.end())
        if after_ids:
            return after_ids[0]
    after = BASE_AFTER_ID.search(line.words)
    if after:
        ids = line.ids_before(after.start())
        if ids:
            return ids[-1]
    return None


class _Reader:
    """State of one pass over the prose lines."""

    def __init__(self, names: ShortNames | None = None) -> None:
        self.names = names
        self.list_models: list[str] = []
        self.list_items = 0
        self.list_keys: set[tuple[str, ...]] = set()
        self.list_is_moe = False
        self.list_evidence: list[str] = []
        self.list_method: str | None = None
        self.sentence_models: list[str] = []
        self.sentence_evidence: list[str] = []
        self.sentence_method: str | None = None
        self.self_model: str | None = None
        self.self_evidence: str | None = None
        self.self_method: str | None = None
        self.self_moe = False
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
        if BASE_HEADING.match(text.strip(" *_#")):
            self.section = "base"
        elif EXPERT_LIST.search(text) or MOE_WORDS.search(text):
            self.section = "moe"
        elif (MERGE_LIST.search(text) or MERGE_WORD.search(text)) and not self.list_models:
            self.section = "merge"
        else:
            self.section = None
        if self.section in ("merge", "moe") and self.list_method is None and not self.list_models:
            self.list_method = method_named(text)  # "Models merged (linear):"

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
            # words count (cheap substring tests before any regex), unless it may
            # name models by their short names.
            lower = raw.lower()
            if "lora" in lower or "adapter" in lower or "peft" in lower:
                self._adapter_words(raw)
            if not (self.names and GENEALOGY_WORDS.search(raw[:MAX_LINE_CHARS])):
                return
        line = ProseLine(raw[:MAX_LINE_CHARS], self.names)
        words = line.words
        self._adapter_words(words)
        heading = HEADING.match(line.raw)
        if heading:
            self._plus_form(line)
            self._start_section(heading.group("text"))
            self._self_form(line)
            return
        bullet = BULLET.match(line.raw)
        if self.section is not None and (bullet or self.in_list or self.section == "base"):
            if self._section_line(line, bullet is not None):
                return
        elif self.section is not None and not bullet:
            if self.lookahead > 0:
                self.lookahead -= 1
            else:
                self.section = None
        label = LABEL_LINE.match(line.words)
        if label and not line.ids and self._opens_list(label.group("text"), base_too=True):
            self._start_section(label.group("text"))
            return
        if label and line.ids and not bullet and self._opens_list(label.group("text")):
            # An intro naming models itself: "I merged these with TIES on top of X:".
            self._merge_sentence(line)
            self._start_section(label.group("text"))
            base = _base_in(line)
            if base is not None and self.base is None:
                self.base, self.base_evidence = base, line.raw.strip()
            self.list_method = method_named(line.words)
            return
        self._base_label(line)
        if not bullet:
            self._plus_form(line)
            self._merge_sentence(line)
        self._self_form(line)
        self._finetune_sentence(line)

    @staticmethod
    def _opens_list(text: str, base_too: bool = False) -> bool:
        return bool(
            MERGE_LIST.search(text)
            or MERGE_WORD.search(text)
            or EXPERT_LIST.search(text)
            or MOE_WORDS.search(text)
            or (base_too and BASE_HEADING.match(text.strip(" *_")))
        )

    def _adapter_words(self, words: str) -> None:
        if ADAPTER_WORDS.search(words):
            self.adapter_words = True
            self.adapter_only = self.adapter_only or bool(ADAPTER_ONLY.search(words))

    def _section_line(self, line: ProseLine, bullet: bool) -> bool:
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
        label = BASE_LABEL.search(line.words) if bullet and ids and self.base is None else None
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
            if self.list_method is None and not ids and len(line.words) < 200:
                # A short remark closing the list names its method: "Equal weights, linear."
                self.list_method = method_named(line.words)
        return False

    def _plus_form(self, line: ProseLine) -> None:
        """ "A + B" as a title: every part of the line around " + " names an id."""
        if self.sentence_models or len(line.ids) < 2 or len(line.raw) >= 400:
            return
        parts = [p for p in PLUS.split(line.plain) if p.strip()]
        if len(parts) >= 2 and all(id_spans(p) for p in parts):
            self.sentence_models = line.ids[:MAX_MODELS]
            self.sentence_evidence = [line.raw.strip()]
            self.sentence_method = method_named(line.words)
            self.sentence_moe = bool(MOE_WORDS.search(line.words))

    def _merge_sentence(self, line: ProseLine) -> None:
        if self.sentence_models or not line.ids:
            return
        match = (
            MERGE_WORD.search(line.words)
            or MERGE_LIST.search(line.words)
            or MOE_WORDS.search(line.words)
            or STACK_WORDS.search(line.words)
        )
        if not match:
            return
        base = _base_in(line)
        after = [m for m in line.ids_after(match.end()) if m != base]
        ids = [m for m in line.ids if m != base]
        chosen = after if len(after) >= 2 else ids if len(ids) >= 2 else []
        if chosen:
            self.sentence_models = chosen[:MAX_MODELS]
            self.sentence_evidence = [line.raw.strip()]
            self.sentence_method = method_named(line.words) or (
                "passthrough" if STACK_WORDS.search(line.words) else None
            )
            self.sentence_moe = bool(MOE_WORDS.search(line.words))
            if base is not None and self.base is None:
                self.base, self.base_evidence = base, line.raw.strip()

    def _self_form(self, line: ProseLine) -> None:
        if self.self_model is not None or len(line.ids) != 1:
            return
        moe = bool(MOE_WORDS.search(line.words) and SELF_MOE.search(line.words))
        if moe or SELF_WORDS.search(line.words):
            self.self_model = line.ids[0]
            self.self_moe = moe
            self.stacked = bool(STACK_WORDS.search(line.words))
            self.self_method = method_named(line.words)
            self.self_evidence = line.raw.strip()

    def _base_label(self, line: ProseLine) -> None:
        if self.base is not None:
            return
        match = BASE_LABEL.search(line.words)
        if match:
            ids = line.ids_after(match.end())
            if ids:
                self.base, self.base_evidence = ids[0], line.raw.strip()
            elif not line.words[match.end() :].strip(" *_"):
                self.section, self.lookahead, self.in_list = "base", LIST_LOOKAHEAD, False

    def _finetune_sentence(self, line: ProseLine) -> None:
        if self.finetune_parent is not None:
            return
        match = FINETUNE_SENTENCE.search(line.words)
        if match:
            ids = line.ids_after(match.end())
            if ids:
                self.finetune_parent, self.finetune_evidence = ids[0], line.raw.strip()

    def _merge(self) -> ProseFacts | None:
        """The merge (or MoE, or self-merge) the prose describes, if any."""
        models = self.list_models or self.sentence_models
        evidence = self.list_evidence if self.list_models else self.sentence_evidence
        method = self.list_method if self.list_models else self.sentence_method
        moe = self.list_is_moe if self.list_models else self.sentence_moe
        base = self.base
        distinct = [m for m in models if m != base]
        # The same model listed several times ("slices: a, a"), or one model
        # "upscaled" / "merged with itself": a self-merge with a single parent;
        # experts that repeat one model: a MoE with a single expert parent.
        repeated = len(self.list_models) == 1 < self.list_items and len(self.list_keys) == 1
        if len(distinct) <= 1 and (self.self_model is not None or repeated):
            single = distinct[0] if distinct else self.self_model or models[0]
            if self.self_model is not None and self.self_model != single:
                return None
            if self.self_evidence:
                evidence = [*evidence, self.self_evidence]
            if (repeated and moe) or (self.self_moe and not distinct[1:]):
                return ProseFacts(
                    relation="moe",
                    models=[single],
                    method=method or "moe",
                    adapter_words=self.adapter_words,
                    evidence=evidence[:MAX_EVIDENCE],
                )
            return ProseFacts(
                relation="merge",
                models=[single],
                method="passthrough" if self.stacked else self.self_method or method,
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
            relation="moe" if moe else "merge",
            models=models,
            base=base,
            method=(method or "moe") if moe else method,
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


def card_ids(lines: Iterable[str], known: Iterable[str] = ()) -> list[str]:
    """Every full model id a card names: ``known`` (front matter) and the prose's."""
    found = list(known)
    for count, line in enumerate(lines):
        if count >= MAX_LINES or len(found) >= MAX_MODELS:
            break
        if "/" in line:
            found.extend(model_ids(line))
    return found


def _read(lines: Iterable[str], names: ShortNames) -> ProseFacts:
    reader = _Reader(names)
    for line in lines:
        reader.line(line)
    return reader.result()


def read_prose_forms(lines: tuple[str, ...] | list[str], known: Iterable[str] = ()) -> ProseFacts:
    """Read the hand-written genealogy of a card from its prose lines (code blocks
    excluded); ``known``: model ids the card declares elsewhere (front matter),
    against which short names are resolved.  Lines are read as written first; when
    they tell no merge, the prose is read again as sentences (a sentence wrapped
    over several lines).  Never raises on text."""
    lines = lines[:MAX_LINES]
    names = ShortNames(card_ids(lines, known))
    by_line = _read(lines, names)
    told = by_line.relation in ("merge", "moe")
    if told and (by_line.method is not None or by_line.base is not None):
        return by_line
    by_sentence = _read(sentences(lines), names)
    if not told:
        return by_sentence if by_sentence.relation in ("merge", "moe") else by_line
    same = (by_sentence.relation, by_sentence.models) == (by_line.relation, by_line.models)
    return by_sentence if same else by_line  # the same merge, with its method or base


__all__ = ["ProseFacts", "ProseRelation", "model_ids", "read_prose_forms", "sentences"]
