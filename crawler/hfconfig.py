"""Architecture facts from a model's ``config.json`` (a plain dict, however obtained)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArchitectureFacts:
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None


def _int(config: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def architecture_facts(config: Any) -> ArchitectureFacts:
    """Read the facts kinhub stores; anything malformed is simply absent."""
    if not isinstance(config, dict):
        return ArchitectureFacts()
    # Multimodal configs keep the language model's numbers in text_config.
    raw_text = config.get("text_config")
    text: dict[str, Any] = raw_text if isinstance(raw_text, dict) else {}
    merged = {**text, **config}
    architectures = merged.get("architectures")
    model_type = merged.get("model_type")
    return ArchitectureFacts(
        architectures=[a for a in architectures if isinstance(a, str)]
        if isinstance(architectures, list)
        else [],
        model_type=model_type if isinstance(model_type, str) else None,
        hidden_size=_int(merged, "hidden_size", "d_model", "n_embd") or _int(text, "hidden_size"),
        num_layers=_int(merged, "num_hidden_layers", "n_layer", "num_layers")
        or _int(text, "num_hidden_layers"),
        vocab_size=_int(merged, "vocab_size") or _int(text, "vocab_size"),
    )
