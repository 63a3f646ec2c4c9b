"""The phrase table of hand-written genealogy: what merge, MoE, upscaling, base and
fine-tune wording looks like in English, Korean, Chinese, Japanese and German.

Each pattern is matched on a line's words with its model ids blanked out
(:class:`crawler.prose_ids.ProseLine`), so an id such as ``org/Model-merged``
never counts as wording.  :func:`method_named` maps a method named in prose to
mergekit's name.  Patterns are bounded; nothing here keeps state.
"""

from __future__ import annotations

import re

_FLAGS = re.IGNORECASE | re.ASCII
"""ASCII word boundaries: an English word glued to CJK text ("MoEモデル", "DPO로")
still ends where it does."""

HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.{0,300})$")
BULLET = re.compile(r"^\s{0,8}(?:[*\-+]|\d{1,3}[.)])\s+(?P<item>.{1,1000})$")
# A label or an intro line ending in a colon ("Models used:", "X is a MoE made with
# the following models using LazyMergekit:"), matched on the line's words.
LABEL_LINE = re.compile(r"^\s{0,3}(?P<text>[^:：\n]{1,300}?)\s*[:：]\s*$")
TABLE_ROW = re.compile(r"^\s{0,3}\|")

MERGE_LIST = re.compile(
    r"models?\s+merged|merged\s+models?|models?\s+used|used\s+models?|ingredients?"
    r"|source\s+models?|parent\s+models?|component\s+models?|merge\s+(?:components|sources"
    r"|recipe)"
    r"|병합|머지|사용(?:된|한)\s*모델|재료|合并|融合|合併|使用的模型|组成模型|源模型"
    r"|マージ|統合"
    r"|zusammen(?:ge)?f(?:ü|ue)hr|verschm[oe]lz|verwendete\s+modelle|zutaten|quellmodelle"
    r"|gemergte",
    _FLAGS,
)
EXPERT_LIST = re.compile(r"\bexperts?\b|전문가|专家|專家|エキスパート|experten", _FLAGS)
MOE_WORDS = re.compile(
    r"\bmoe\b|mixture[\s\-]of[\s\-]experts|mixtral[\s\-]style|混合专家|混合專家|専門家混合"
    r"|mischung\s+aus\s+experten",
    _FLAGS,
)
BASE_HEADING = re.compile(
    r"^(?:the\s+)?base[\s_\-]*models?\b|^basismodell|^기반\s*모델|^베이스\s*모델"
    r"|^基础模型|^基座模型|^底座模型|^基礎模型|^ベースモデル|^finetuned\s+from|^fine-tuned\s+from",
    _FLAGS,
)
BASE_LABEL = re.compile(
    r"(?:\bbase[\s_\-]*model|\bbasismodell|기반\s*모델|베이스\s*모델|基础模型|基座模型|底座模型"
    r"|基礎模型|ベースモデル|\bfine[\s\-]?tuned\s+from(?:\s+model)?)"
    r"(?:\s*\[optional\])?\s*(?:\*\*|__)?\s*[:：]",
    _FLAGS,
)
# Inside a merge sentence: the base named after "on top of" / "base model:" …
BASE_BEFORE_ID = re.compile(
    r"\bon\s+top\s+of\b|\bwith\s+(?:the\s+)?base(?:\s+model)?\b|\bbase(?:\s+model)?\s*[:=]"
    r"|\bbase(?:\s+model)?\s+(?:is|was)\b",
    _FLAGS,
)
# … or before "as (the) base".
BASE_AFTER_ID = re.compile(
    r"\bas\s+(?:the\s+|a\s+|its\s+)?base\b|을\s*베이스로|를\s*베이스로|をベースに", _FLAGS
)
FINETUNE_SENTENCE = re.compile(
    r"\b(?:fine[\s\-]?tuned\s+(?:version\s+of|from|on\s+top\s+of)|trained\s+on\s+top\s+of"
    r"|(?:lora|qlora|adapter)\s+(?:for|of|on\s+top\s+of|trained\s+on))\s",
    _FLAGS,
)
MERGE_WORD = re.compile(
    r"\bmerge[ds]?\b|\bmerging\b|\bblend(?:ed)?\b|\bfrankenmerge\b"
    r"|병합|머지|合并|融合|合併|マージ|統合"
    r"|zusammen(?:ge)?f(?:ü|ue)hr|verschm[oe]lz|\bgemerg",
    _FLAGS,
)
SELF_WORDS = re.compile(
    r"up[\s\-]?scal(?:ed|ing|e)\b|depth[\s\-]up[\s\-]?scal|\bDUS\b|self[\s\-]?merge"
    r"|with\s+itself|mit\s+sich\s+selbst|자기\s*자신|업스케일|깊이\s*확장|自身|自我合并|自合并"
    r"|深度扩展|深度擴展|アップスケール",
    _FLAGS,
)
# A MoE whose experts are one model: "four copies of X", "X with its own experts".
SELF_MOE = re.compile(
    r"\bits\s+own\b|\bcopies\s+of\b|\bsame\s+model\b|\bwith\s+itself\b|같은\s*모델|복제"
    r"|相同的模型|同一模型|同じモデル|\bKopien\b|\bdemselben\s+Modell",
    _FLAGS,
)
STACK_WORDS = re.compile(
    r"up[\s\-]?scal|depth[\s\-]up|\bDUS\b|업스케일|깊이\s*확장|深度扩展|深度擴展|アップスケール"
    r"|interleav|frankenmerge|passthrough|layer[\s\-]stack|stacked\s+(?:the\s+)?layers",
    _FLAGS,
)
ADAPTER_WORDS = re.compile(r"\b(?:q?lora|adapters?|peft)\b", _FLAGS)
ADAPTER_ONLY = re.compile(r"\badapter\b", _FLAGS)
PLUS = re.compile(r"\s\+\s")
# Any wording that makes a line worth a closer look (cheap pre-test of plain lines).
GENEALOGY_WORDS = re.compile(
    MERGE_WORD.pattern + "|" + MOE_WORDS.pattern + "|" + SELF_WORDS.pattern + r"|interleav",
    _FLAGS,
)

_METHODS = (
    ("task arithmetic", "task_arithmetic"),
    ("task_arithmetic", "task_arithmetic"),
    ("model stock", "model_stock"),
    ("model_stock", "model_stock"),
    ("dare ties", "dare_ties"),
    ("dare_ties", "dare_ties"),
    ("dare linear", "dare_linear"),
    ("dare_linear", "dare_linear"),
    ("della linear", "della_linear"),
    ("della_linear", "della_linear"),
    ("breadcrumbs ties", "breadcrumbs_ties"),
    ("nuslerp", "nuslerp"),
    ("slerp", "slerp"),
    ("passthrough", "passthrough"),
    ("breadcrumbs", "breadcrumbs"),
    ("della", "della"),
    ("karcher", "karcher"),
    ("ties", "ties"),
    ("linear", "linear"),
)
_METHOD_PATTERNS = tuple(
    (re.compile(rf"(?<![a-z_]){re.escape(words)}(?![a-z_])"), name) for words, name in _METHODS
)


def method_named(words: str) -> str | None:
    """The mergekit method a line names ("with TIES", "(linear, equal weights)")."""
    lower = words.lower()
    for pattern, name in _METHOD_PATTERNS:
        if pattern.search(lower):
            return name
    return None


__all__ = [
    "ADAPTER_ONLY",
    "ADAPTER_WORDS",
    "BASE_AFTER_ID",
    "BASE_BEFORE_ID",
    "BASE_HEADING",
    "BASE_LABEL",
    "BULLET",
    "EXPERT_LIST",
    "FINETUNE_SENTENCE",
    "GENEALOGY_WORDS",
    "HEADING",
    "LABEL_LINE",
    "MERGE_LIST",
    "MERGE_WORD",
    "MOE_WORDS",
    "PLUS",
    "SELF_MOE",
    "SELF_WORDS",
    "STACK_WORDS",
    "TABLE_ROW",
    "method_named",
]
