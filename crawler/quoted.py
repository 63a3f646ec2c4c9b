"""A merge quoted on a card that is not this model's: the base's recipe or story.

Fine-tunes and adapters of merged models often carry their parent's card
forward — the LazyMergekit sentence, the ``## Configuration`` recipe — above or
below a line saying the model was trained from it.  The quoted merge then
describes the declared base, not the model.  The card's own structure and
metadata tell the two apart:

* the front matter declares the base (``base_model``), and the quoted merge
  does not use it: a merge's card lists what the merge reads, so a recipe
  that never names the declared base made something else — the base itself;
* and the card shows training from that base: a declared relation
  (``finetune``/``adapter``/``quantized``), a training or adapter tag (``dpo``,
  ``sft``, ``trl``, ``lora``, …), ``library_name: peft``, or a prose line that
  names the declared base with training wording, in any of the languages of
  :data:`TRAINING_WORDS`.

Pure functions over the parsed pieces; nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from kinhub.crawler.frontmatter import FrontMatter
from kinhub.crawler.recipe import Recipe

MAX_LINES = 2_000
MAX_LINE_CHARS = 2_000

TRAINING_TAGS = frozenset(
    {
        "dpo",
        "sft",
        "orpo",
        "kto",
        "ipo",
        "cpo",
        "simpo",
        "rlhf",
        "trl",
        "peft",
        "lora",
        "qlora",
        "unsloth",
        "axolotl",
        "generated_from_trainer",
        "llama-factory",
        "autotrain",
        "fine-tuned",
        "finetuned",
    }
)
"""Tags of a trained (not merged) model."""

TRAINING_WORDS = re.compile(
    r"fine[\s\-]?tun|finetun|\btrain(?:ed|ing)\b|\b(?:dpo|sft|orpo|kto|ipo|simpo|rlhf)\b"
    r"|\bq?lora\b|\badapter\b|instruction[\s\-]tuned|\baligned\b"
    r"|학습|미세\s*조정|파인\s*튜닝|튜닝"  # Korean
    r"|微调|训练|微調|訓練"  # Chinese
    r"|ファインチューニング|学習|微調整"  # Japanese
    r"|feinabgestimmt|feinabstimmung|trainiert|nachtrainiert",  # German
    re.IGNORECASE | re.ASCII,
)
"""Training wording, per language (a multilingual phrase table)."""


def _names(declared: Sequence[str]) -> list[str]:
    """The declared ids and their short names (the part after the org), lower-case."""
    names: list[str] = []
    for repo_id in declared:
        names.append(repo_id.lower())
        short = repo_id.rpartition("/")[2].lower()
        if len(short) >= 4:
            names.append(short)
    return names


def training_evidence(fm: FrontMatter, prose_lines: Iterable[str]) -> str | None:
    """Why the card reads as trained from its declared base, or ``None``."""
    if not fm.base_models:
        return None
    if fm.relation in ("finetune", "adapter", "quantized"):
        return f"base_model_relation {fm.relation}"
    tags = TRAINING_TAGS & {t.lower() for t in fm.tags}
    if tags:
        return "tagged " + ", ".join(sorted(tags))
    if (fm.library_name or "").lower() == "peft":
        return "library_name peft"
    names = _names(fm.base_models)
    for count, raw in enumerate(prose_lines):
        if count >= MAX_LINES:
            break
        line = raw[:MAX_LINE_CHARS]
        lower = line.lower()
        if any(name in lower for name in names) and TRAINING_WORDS.search(line):
            return "the card says it was trained from its base"
    return None


def recipe_models(recipe: Recipe) -> set[str]:
    """Every model a recipe reads (all stages, bases and LoRAs included)."""
    used: set[str] = set()
    for stage in (recipe.final, *recipe.earlier):
        if stage.base_model:
            used.add(stage.base_model)
        for item in stage.inputs:
            used.add(item.model)
            if item.lora:
                used.add(item.lora)
    return used


def describes_the_base(models: set[str], declared: Sequence[str], any_resolved: bool) -> bool:
    """True when a merge reading ``models`` cannot be the merge that made this
    model: the card declares bases and the merge uses none of them (judged only
    when the merge names at least one Hub id)."""
    if not declared or not any_resolved:
        return False
    lowered = {m.lower() for m in models}
    return not any(d.lower() in lowered for d in declared)


__all__ = [
    "TRAINING_TAGS",
    "TRAINING_WORDS",
    "describes_the_base",
    "recipe_models",
    "training_evidence",
]
