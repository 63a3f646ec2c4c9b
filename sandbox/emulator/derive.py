"""Hub metadata derived from a repo's files, the way the Hub derives it.

Pure functions over already-read bytes: card front matter → ``cardData``; card
+ files → ``tags`` (including ``base_model:<relation>:<id>``); safetensors
headers → ``{"parameters": {dtype: n}, "total": n}``; ``config.json`` → the
subset of keys the Hub exposes as ``config``.  Nothing here raises on bad input:
a broken card or header simply yields no data, as on the Hub, and hostile input is
bounded (``MAX_DEPTH``, ``MAX_FRONT_MATTER``, ``MAX_YAML_NODES``) so that one repo can
neither exhaust the emulator's memory nor its stack: that repo only lacks the field.
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import yaml
from kinhub.db.ids import is_repo_id

logger = logging.getLogger(__name__)

RELATIONS = ("adapter", "merge", "finetune", "quantized")

# Keys of config.json the Hub copies into the `config` field of a model's info.
_HUB_CONFIG_KEYS = ("architectures", "model_type", "auto_map", "quantization_config", "peft")

# Largest safetensors header we accept (the format caps it at 100 MB).
MAX_SAFETENSORS_HEADER = 100_000_000
# Hostile repos must not take the emulator down (see ``bounded_json``/``parse_front_matter``):
# JSON and YAML deeper than this, YAML front matter longer than MAX_FRONT_MATTER characters
# or expanding (aliases followed) to more than MAX_YAML_NODES values give no data.
MAX_DEPTH = 100
MAX_FRONT_MATTER = 1_000_000
MAX_YAML_NODES = 100_000

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_YAML_OPENERS = frozenset(b"[{")

# libyaml's CSafeLoader constructs exactly what yaml.safe_load does, ~8x faster; that matters
# when a 100,000-repo snapshot is indexed.  Never any other loader.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """Return the README's YAML front matter as a dict, or None.

    The front matter must open on the first line with ``---`` and close with a
    line ``---``.  An unclosed block, YAML that does not parse, or a document
    that is not a mapping gives None (the Hub then shows no cardData).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    closing = [i for i, line in enumerate(lines) if i > 0 and line.strip() == "---"]
    if not closing:
        return None
    end = closing[0]
    block = "\n".join(lines[1:end])
    if len(block) > MAX_FRONT_MATTER:
        logger.debug("card front matter longer than %d characters", MAX_FRONT_MATTER)
        return None
    if _nesting(block.encode("utf-8", "replace"), strings=False) > MAX_DEPTH:
        logger.debug("card front matter nested deeper than %d", MAX_DEPTH)
        return None
    try:
        data = yaml.load(block, Loader=_SafeLoader)  # the safe loader, C-accelerated if built
    except (yaml.YAMLError, RecursionError):
        logger.debug("card front matter does not parse")
        return None
    if not isinstance(data, dict) or not _small_tree(data):
        return None
    # The Hub serves cardData as JSON: YAML dates become strings, keys become strings.
    try:
        safe: dict[str, Any] = json.loads(json.dumps(data, default=str))
    except (ValueError, RecursionError):
        return None
    return safe


def _nesting(raw: bytes, *, strings: bool = True) -> int:
    """The deepest ``[``/``{`` nesting in ``raw`` without parsing it (no recursion):
    JSON strings are cut out first when ``strings``; block-style YAML nests by
    indentation, which the YAML parser handles without recursion on its own."""
    if strings:
        raw = _JSON_STRING.sub(b"", raw)
    brackets = np.frombuffer(raw.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    steps = np.where(np.isin(brackets, list(_YAML_OPENERS)), 1, -1)
    return int(np.cumsum(steps).max())


def _small_tree(data: Any) -> bool:
    """True when ``data`` holds at most MAX_YAML_NODES values, at most MAX_DEPTH deep,
    counting every use of a shared (aliased) value: an alias bomb's few nodes expand to
    billions, and so would its JSON.  Iterative, so a cycle only spends the budget."""
    budget = MAX_YAML_NODES
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > MAX_DEPTH:
            logger.debug("card front matter too large once aliases are expanded")
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            stack.extend((k, depth + 1) for k in value)
        elif isinstance(value, list | tuple | set):
            stack.extend((v, depth + 1) for v in value)
    return True


def bounded_json(raw: bytes) -> Any:
    """``json.loads`` of a repo file, or None when it is not JSON or nests deeper than
    MAX_DEPTH (a 100,000-deep document would otherwise end in RecursionError)."""
    if _nesting(raw) > MAX_DEPTH:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _as_str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v)]
    return []


def base_models(card: Mapping[str, Any] | None) -> list[str]:
    """The valid ``org/name`` ids the card lists under ``base_model``, in order."""
    if not card:
        return []
    out: list[str] = []
    for ref in _as_str_list(card.get("base_model")):
        ref = ref.strip()
        if is_repo_id(ref) and ref not in out:
            out.append(ref)
    return out


def base_model_relation(
    card: Mapping[str, Any] | None, *, bases: list[str], filenames: Iterable[str]
) -> str | None:
    """The relation the Hub shows for the card's base models.

    Declared ``base_model_relation`` wins; otherwise several bases → merge, an
    ``adapter_config.json`` → adapter, a ``.gguf`` file → quantized, else
    finetune.  None when there is no base model.
    """
    if not bases:
        return None
    declared = card.get("base_model_relation") if card else None
    if isinstance(declared, str) and declared in RELATIONS:
        return declared
    names = list(filenames)
    if len(bases) > 1:
        return "merge"
    if "adapter_config.json" in names:
        return "adapter"
    if any(n.endswith(".gguf") for n in names):
        return "quantized"
    return "finetune"


def derive_tags(
    card: Mapping[str, Any] | None,
    *,
    filenames: list[str],
    config: Mapping[str, Any] | None,
) -> list[str]:
    """Tags the Hub would show for a repo with this card, files and config."""
    tags: list[str] = []

    def add(tag: str) -> None:
        if tag and tag not in tags:
            tags.append(tag)

    library = card.get("library_name") if card else None
    if isinstance(library, str):
        add(library)
    elif "adapter_config.json" in filenames:
        add("peft")
    elif config is not None:
        add("transformers")
    if any(n.endswith(".safetensors") for n in filenames):
        add("safetensors")
    if any(n.endswith(".gguf") for n in filenames):
        add("gguf")
    if config and isinstance(config.get("model_type"), str):
        add(config["model_type"])
    if card:
        for tag in _as_str_list(card.get("tags")):
            add(tag)
        pipeline = card.get("pipeline_tag")
        if isinstance(pipeline, str):
            add(pipeline)
        for lang in _as_str_list(card.get("language")):
            add(lang)
        for ds in _as_str_list(card.get("datasets")):
            add(f"dataset:{ds}")
        bases = base_models(card)
        relation = base_model_relation(card, bases=bases, filenames=filenames)
        for base in bases:
            add(f"base_model:{base}")
            if relation:
                add(f"base_model:{relation}:{base}")
        for lic in _as_str_list(card.get("license")):
            add(f"license:{lic}")
    add("region:us")
    return tags


def base_models_field(
    card: Mapping[str, Any] | None, *, filenames: list[str]
) -> dict[str, Any] | None:
    """The ``baseModels`` expand value: ``{"relation": r, "models": [{"id": ...}]}``."""
    bases = base_models(card)
    if not bases:
        return None
    relation = base_model_relation(card, bases=bases, filenames=filenames)
    return {"relation": relation, "models": [{"id": b} for b in bases]}


def hub_config(raw: bytes) -> dict[str, Any] | None:
    """The Hub's ``config`` field: a few keys of config.json; None when unreadable."""
    data = bounded_json(raw)
    if not isinstance(data, dict):
        return None
    return {k: data[k] for k in _HUB_CONFIG_KEYS if k in data}


def transformers_info(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A plausible ``transformersInfo`` for causal-LM configs; None otherwise."""
    if not config:
        return None
    archs = config.get("architectures")
    if isinstance(archs, list) and any(str(a).endswith("ForCausalLM") for a in archs):
        return {
            "auto_model": "AutoModelForCausalLM",
            "pipeline_tag": "text-generation",
            "processor": "AutoTokenizer",
        }
    return None


def safetensors_header(head: bytes) -> tuple[int, dict[str, Any]] | None:
    """Parse ``(header_length, header)`` from a file's first bytes; None if invalid.

    ``head`` must hold at least the 8-byte length prefix; returns None when it
    does not hold the whole header either.
    """
    if len(head) < 8:
        return None
    (length,) = struct.unpack("<Q", head[:8])
    if length > MAX_SAFETENSORS_HEADER or len(head) < 8 + length:
        return None
    header = bounded_json(head[8 : 8 + length])
    return (length, header) if isinstance(header, dict) else None


def count_parameters(headers: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Sum tensor element counts per dtype over safetensors headers (Hub format)."""
    per_dtype: dict[str, int] = {}
    for header in headers:
        for name, info in header.items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            shape = info.get("shape")
            dtype = info.get("dtype")
            if not isinstance(shape, list) or not isinstance(dtype, str):
                continue
            if not all(isinstance(d, int) and d >= 0 for d in shape):
                continue
            per_dtype[dtype] = per_dtype.get(dtype, 0) + math.prod(shape)
    if not per_dtype:
        return None
    return {"parameters": per_dtype, "total": sum(per_dtype.values())}
