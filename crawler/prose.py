"""What a card's prose says about a merge: mergekit's method sentence and model bullets.

"This model was merged using the [DARE TIES](...) merge method using
[org/base](...) as a base." gives the method (normalized to mergekit's name)
and the base; "### Models Merged" (or LazyMergekit's "is a merge of the
following models") bullets give the ingredients.  Used when a card has no
readable YAML recipe.  All regexes are bounded and applied per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kinhub.db.ids import is_repo_id

MAX_LINE_CHARS = 4_000
MAX_BULLETS = 500

_SENTENCE = re.compile(
    r"merged\s+using\s+the\s+(?P<method>[^\n]{1,400}?)\s+merge\s+method(?P<rest>[^\n]{0,1500})",
    re.IGNORECASE,
)
_AS_BASE = re.compile(r"^\s*using\s+(?P<base>[^\n]{1,1000}?)\s+as\s+(?:a|the)\s+base", re.I)
# Labels exclude "[" so a run of brackets fails fast instead of rescanning 300 chars each.
_LINK = re.compile(r"\[(?P<text>[^\[\]\n]{0,300})\]\((?P<url>[^()\s]{0,500})\)")
_BULLET = re.compile(r"^\s{0,8}[*\-+]\s+(?P<item>.{1,1000})$")
_MERGED_HEADING = re.compile(r"^#{1,6}\s*models?\s+merged\b", re.IGNORECASE)
_LIST_INTRO = re.compile(
    r"(?:following\s+models\s+were\s+included\s+in\s+the\s+merge"
    r"|is\s+a\s+merge\s+of\s+the\s+following\s+models)",
    re.IGNORECASE,
)
_HF_URL = re.compile(r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<id>[^/\s?#]+/[^/\s?#]+)")

# Pretty names mergekit has written (current and older releases) → method names.
_METHOD_NAMES = {
    "linear": "linear",
    "slerp": "slerp",
    "nuslerp": "nuslerp",
    "nu slerp": "nuslerp",
    "multislerp": "multislerp",
    "multi slerp": "multislerp",
    "karcher": "karcher",
    "karcher mean": "karcher",
    "passthrough": "passthrough",
    "model stock": "model_stock",
    "modelstock": "model_stock",
    "arcee fusion": "arcee_fusion",
    "nearswap": "nearswap",
    "near swap": "nearswap",
    "sce": "sce",
    "ram": "ram",
    "reinforced agent merging": "ram",
    "ramplus tl": "ramplus_tl",
    "reinforced agent merging plus tensor local": "ramplus_tl",
    "task arithmetic": "task_arithmetic",
    "ties": "ties",
    "dare ties": "dare_ties",
    "ties dare": "dare_ties",
    "linear dare": "dare_linear",
    "dare linear": "dare_linear",
    "model breadcrumbs": "breadcrumbs",
    "breadcrumbs": "breadcrumbs",
    "model breadcrumbs with ties": "breadcrumbs_ties",
    "breadcrumbs ties": "breadcrumbs_ties",
    "della": "della",
    "della ties": "della",
    "linear della": "della_linear",
    "della linear": "della_linear",
    "consensus ta": "consensus_ta",
    "consensus task arithmetic": "consensus_ta",
    "consensus ties": "consensus_ties",
}
_METHOD_WORDS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ProseRecipe:
    """The recipe as the card's prose tells it (strings as written, links removed)."""

    merge_method: str | None = None
    method_text: str | None = None
    base: str | None = None
    models: list[str] = field(default_factory=list)
    sentence: str | None = None


def strip_markdown(text: str) -> str:
    """Links become their text (or the Hub id of their URL); emphasis and code marks go."""

    def link(match: re.Match[str]) -> str:
        label = match.group("text").strip()
        url = _HF_URL.match(match.group("url"))
        if url and (not label or " " in label):
            return url.group("id")
        return label

    text = _LINK.sub(link, text[:MAX_LINE_CHARS])
    return text.replace("**", "").replace("`", "").replace("__", " ").strip()


def normalize_method(text: str) -> str | None:
    """A pretty method name ("DARE TIES", "[Model Stock](...)") → mergekit's name."""
    plain = strip_markdown(text).strip(" .*_'\"")
    if not plain:
        return None
    if re.fullmatch(r"[a-z][a-z0-9_]{0,60}", plain):
        return plain  # already a method name ("della_linear")
    words = _METHOD_WORDS.sub(" ", plain.lower()).strip()
    if words in _METHOD_NAMES:
        return _METHOD_NAMES[words]
    if not words:
        return None
    return words.replace(" ", "_")[:100]


def _split_plus(text: str) -> str:
    """ "[base](...) + [lora](...)" → "base+lora" (the reference syntax of a recipe)."""
    parts = [p.strip() for p in strip_markdown(text).split(" + ")]
    return "+".join(p for p in parts if p)


def _leading_ref(item: str) -> str:
    """ "org/m (layers 0-30)" → "org/m": a Hub reference followed by a remark."""
    head, _, rest = item.partition(" ")
    if rest and is_repo_id(head.split("+")[0].split("@")[0]):
        return head
    return item


def read_prose(lines: tuple[str, ...] | list[str]) -> ProseRecipe:
    """Scan prose lines for the method sentence and the merged-model bullets."""
    method_text = method = base = sentence = None
    models: list[str] = []
    collecting = False
    for raw in lines:
        line = raw[:MAX_LINE_CHARS]
        if method_text is None and "merge" in line.lower():
            match = _SENTENCE.search(line)
            if match:
                sentence = line.strip()
                method_text = strip_markdown(match.group("method"))
                method = normalize_method(match.group("method"))
                rest = _AS_BASE.match(match.group("rest"))
                if rest:
                    base = _split_plus(rest.group("base")) or None
        if _MERGED_HEADING.match(line) or _LIST_INTRO.search(line):
            collecting = True
            continue
        if not collecting:
            continue
        bullet = _BULLET.match(line)
        if bullet and len(models) >= MAX_BULLETS:
            collecting = False
        elif bullet:
            item = _leading_ref(_split_plus(bullet.group("item")))
            if item and item not in models:
                models.append(item)
        elif line.strip():
            collecting = False
    return ProseRecipe(
        merge_method=method,
        method_text=method_text,
        base=base,
        models=models,
        sentence=sentence,
    )
