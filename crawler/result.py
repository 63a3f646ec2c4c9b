"""The parse result of one card or config, and how a relation is inferred.

:class:`ParseResult` is what ``kinhub parse`` prints (via :meth:`ParseResult.to_json`)
and what :mod:`crawler.facts` maps to database records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kinhub.crawler.names import TextKind
from kinhub.crawler.recipe import Recipe, RecipeInput, Stage
from kinhub.db.records import EvaluationRecord, Relation

Kind = TextKind
RecipeOrigin = Literal["yaml", "prose"]
Weights = Literal["adapter", "full"]

RELATIONS: dict[str, Relation] = {
    "merge": "merge",
    "moe": "moe",
    "finetune": "finetune",
    "adapter": "adapter",
    "quantized": "quantized",
}
"""Relation names as typed values (lets untrusted strings become ``Relation`` safely)."""

_ADAPTER_TAGS = frozenset({"lora", "peft", "adapter", "qlora"})
_QUANTIZED_TAGS = frozenset(
    {"gguf", "gptq", "awq", "exl2", "quantized", "4-bit", "8-bit", "bitsandbytes", "mlx-4bit"}
)
_ADAPTER_FILES = frozenset(
    {"adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"}
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state")


def weights_kind(files: Sequence[str] | None) -> Weights | None:
    """What a repo's weights are, from its file names: ``adapter`` (PEFT adapter
    files), ``full`` (model weights, no adapter), ``None`` (unknown: no list given,
    or no weight files such as a GGUF-only repo)."""
    if not files:
        return None
    names = [f.rsplit("/", 1)[-1].lower() for f in files if isinstance(f, str)]
    if any(name in _ADAPTER_FILES for name in names):
        return "adapter"
    if any(name.endswith(_WEIGHT_SUFFIXES) and not name.startswith(_NOT_WEIGHTS) for name in names):
        return "full"
    return None


def infer_relation(
    *,
    recipe_relation: str | None,
    declared_relation: str | None,
    n_bases: int,
    has_prose_method: bool = False,
    tags: Sequence[str] = (),
    library_name: str | None = None,
    prose_relation: str | None = None,
    weights: Weights | None = None,
) -> Relation | None:
    """The relation a reader would assign to a model from what its card says.

    Order: the recipe's relation; the declared ``base_model_relation``; a merge
    or MoE told by the prose (:mod:`crawler.prose_forms`), a merge sentence or
    several base models → merge (moe when tagged ``moe``); one base model (or a
    parent named in the prose) → adapter when the weights are an adapter
    (``weights``; without a file list: tags, ``library_name: peft`` or adapter
    wording), quantized when tagged so, else finetune; nothing → ``None``.
    """
    for value in (recipe_relation, declared_relation):
        if value is not None and value in RELATIONS:
            return RELATIONS[value]
    lowered = {t.lower() for t in tags}
    if prose_relation == "moe":
        return "moe"
    if prose_relation == "merge" or has_prose_method or n_bases > 1:
        return "moe" if "moe" in lowered and not has_prose_method else "merge"
    if n_bases == 1 or prose_relation in ("finetune", "adapter"):
        if weights == "adapter":
            return "adapter"
        if weights is None and (
            lowered & _ADAPTER_TAGS
            or (library_name or "").lower() == "peft"
            or prose_relation == "adapter"
        ):
            return "adapter"
        if lowered & _QUANTIZED_TAGS:
            return "quantized"
        return "finetune"
    return None


@dataclass(frozen=True)
class ParseResult:
    """Everything read from one card or config.  Field meanings: see ``to_json``."""

    file: str
    kind: Kind
    relation: Relation | None = None
    recipe: Recipe | None = None
    recipe_origin: RecipeOrigin | None = None
    prose_method: str | None = None
    prose_base: str | None = None
    prose_inputs: tuple[RecipeInput, ...] = ()
    front_matter: str | None = None
    declared_base_models: list[str] = field(default_factory=list)
    declared_resolved: list[bool] = field(default_factory=list)
    base_model_relation: str | None = None
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    library_name: str | None = None
    pipeline_tag: str | None = None
    prose_evidence: list[str] = field(default_factory=list)
    weights: Weights | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def final(self) -> Stage | None:
        return self.recipe.final if self.recipe else None

    @property
    def merge_method(self) -> str | None:
        return self.final.merge_method if self.final else self.prose_method

    @property
    def base_model(self) -> str | None:
        if self.final is not None:
            return self.final.base_model
        if self.prose_base is not None:
            return self.prose_base
        if self.relation in ("finetune", "adapter", "quantized") and self.declared_base_models:
            return self.declared_base_models[0]
        return None

    @property
    def inputs(self) -> list[RecipeInput]:
        return list(self.final.inputs) if self.final else list(self.prose_inputs)

    @property
    def parents(self) -> list[str]:
        if self.final is not None:
            return self.final.parents
        return list(dict.fromkeys(i.model for i in self.prose_inputs if i.role != "base"))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; the keys are documented in ``kinhub parse --help``."""
        final = self.final
        return {
            "file": self.file,
            "kind": self.kind,
            "relation": self.relation,
            "merge_method": self.merge_method,
            "base_model": self.base_model,
            "parents": self.parents,
            "inputs": [i.to_json() for i in self.inputs],
            "stages": [s.to_json() for s in self.recipe.earlier] if self.recipe else [],
            "stage_name": final.name if final else None,
            "base_stage": final.base_stage if final else None,
            "stage_refs": list(final.stage_refs) if final else [],
            "recipe_origin": self.recipe_origin,
            "recipe_shape": final.shape if final else None,
            "parameters": final.parameters if final else {},
            "dtype": final.dtype if final else None,
            "tokenizer_source": final.tokenizer_source if final else None,
            "declared_base_models": self.declared_base_models,
            "base_model_relation": self.base_model_relation,
            "front_matter": self.front_matter,
            "evaluations": [
                {
                    "task": e.task,
                    "dataset": e.dataset,
                    "metric": e.metric,
                    "value": e.value,
                    "source_name": e.source_name,
                }
                for e in self.evaluations
            ],
            "license": self.license,
            "tags": self.tags,
            "library_name": self.library_name,
            "pipeline_tag": self.pipeline_tag,
            "prose_evidence": self.prose_evidence,
            "weights": self.weights,
            "warnings": self.warnings,
        }
