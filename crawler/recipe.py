"""Merge recipes: YAML documents (mergekit, mergekit-moe, -multi, -evolve, mlx_lm.merge)
turned into normalized stages.

:func:`recipe_from_documents` takes already-loaded YAML mappings (one per
document or code block) and builds a :class:`Recipe`: the final stage plus the
earlier stages of a multi-stage recipe.  Nothing here raises on bad content;
problems become warnings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from kinhub.crawler.methods import find_method
from kinhub.crawler.refs import MAX_REF_CHARS, ModelRef, parse_ref

InputRole = Literal["base", "ingredient", "slice", "expert"]
RecipeRelation = Literal["merge", "moe"]

MAX_INPUTS = 2_000
"""Most inputs kept per stage (a real recipe has a handful; slices maybe a hundred)."""
MAX_STAGES = 50

_RECIPE_KEYS = ("merge_method", "models", "slices", "modules", "experts")


@dataclass(frozen=True)
class RecipeInput:
    """One model a stage reads, in file order."""

    model: str
    role: InputRole
    revision: str | None = None
    lora: str | None = None
    lora_revision: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    layer_range: list[Any] | None = None
    resolved: bool = True

    @classmethod
    def from_ref(
        cls,
        ref: ModelRef,
        role: InputRole,
        *,
        parameters: dict[str, Any] | None = None,
        layer_range: list[Any] | None = None,
    ) -> RecipeInput:
        """The input a parsed reference names, in ``role``."""
        return cls(
            model=ref.model,
            role=role,
            revision=ref.revision,
            lora=ref.lora,
            lora_revision=ref.lora_revision,
            parameters=parameters or {},
            layer_range=layer_range,
            resolved=ref.resolved,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "revision": self.revision,
            "lora": self.lora,
            "lora_revision": self.lora_revision,
            "role": self.role,
            "parameters": self.parameters,
            "layer_range": self.layer_range,
            "resolved": self.resolved,
        }


@dataclass(frozen=True)
class Stage:
    """One merge: a YAML document of the recipe."""

    name: str | None
    merge_method: str | None
    relation: RecipeRelation
    shape: str
    base_model: str | None = None
    base_stage: str | None = None
    inputs: tuple[RecipeInput, ...] = ()
    stage_refs: tuple[str, ...] = ()
    dtype: str | None = None
    tokenizer_source: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def parents(self) -> list[str]:
        """Every input whose role is not ``base`` (an anchor the method subtracts),
        file order, de-duplicated; a ``base_model`` the method merges as one of its
        inputs (slerp, linear, …) is an ``ingredient`` and so a parent."""
        seen: dict[str, None] = {}
        for item in self.inputs:
            if item.role != "base":
                seen.setdefault(item.model, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "merge_method": self.merge_method,
            "relation": self.relation,
            "shape": self.shape,
            "base_model": self.base_model,
            "base_stage": self.base_stage,
            "parents": self.parents,
            "stage_refs": list(self.stage_refs),
            "inputs": [i.to_json() for i in self.inputs],
            "dtype": self.dtype,
            "tokenizer_source": self.tokenizer_source,
            "parameters": self.parameters,
        }


@dataclass(frozen=True)
class Recipe:
    """A whole recipe: ``final`` describes the model; ``earlier`` the stages before it."""

    final: Stage
    earlier: tuple[Stage, ...] = ()
    raw_text: str = ""

    @property
    def merge_method(self) -> str | None:
        return self.final.merge_method

    @property
    def base_model(self) -> str | None:
        return self.final.base_model


def resolve_roles(
    merge_method: str | None,
    base: ModelRef | None,
    inputs: Sequence[RecipeInput],
    warnings: list[str],
) -> tuple[RecipeInput, ...]:
    """Give each input the role the merge method gives it; the base entry goes first.

    ``inputs`` carry the role of where they were written (``models`` →
    ``ingredient``, slice ``sources`` → ``slice``, MoE ``experts`` → ``expert``).
    For a method of the registry (:mod:`crawler.methods`):

    * a ``base_model`` the method subtracts is ``base``, wherever it is listed;
    * any other ``base_model`` is one of the merged models: it takes the role of
      its own entry among the inputs, ``ingredient`` when it has none;
    * slice sources are ``slice`` only for a method that stacks layer ranges
      (passthrough); for every other method they are ``ingredient``.

    An unknown (or missing) method keeps the roles of where models are written,
    with the base as ``base``, and warns when a name was given.
    """
    method = find_method(merge_method)
    roles: list[RecipeInput] = list(inputs)
    if method is None:
        if merge_method is not None:
            warnings.append(
                f"merge method {merge_method[:100]!r} is not a known method; "
                "roles follow where models are written"
            )
        subtracted = base is not None
    else:
        subtracted = base is not None and method.subtracts_base
        if not method.stacks_layers:
            roles = [replace(i, role="ingredient") if i.role == "slice" else i for i in roles]
    if base is None:
        return tuple(roles)
    # The same reference (revision and LoRA included, as mergekit compares them):
    # ``org/m+lora`` is another model than ``org/m``.
    same = (base.model, base.revision, base.lora, base.lora_revision)

    def is_base(item: RecipeInput) -> bool:
        return (item.model, item.revision, item.lora, item.lora_revision) == same

    listed = [i for i in roles if is_base(i)]
    if subtracted:
        if method is not None and method.base_apart and listed:
            warnings.append(
                f"{method.name} subtracts base_model {base.model[:100]!r}, which is also "
                "listed among the models merged (mergekit refuses this)"
            )
        base_role: InputRole = "base"
        roles = [replace(i, role="base") if is_base(i) else i for i in roles]
    else:
        base_role = listed[0].role if listed else "ingredient"
    return (RecipeInput.from_ref(base, base_role), *roles)


def is_recipe_mapping(data: Any) -> bool:
    """True when a loaded YAML mapping looks like a merge recipe of a known shape."""
    if not isinstance(data, dict):
        return False
    if any(key in data for key in _RECIPE_KEYS):
        return True
    if isinstance(data.get("genome"), dict):
        return True
    return isinstance(data.get("method"), str) and isinstance(data.get("models"), list)


class _StageBuilder:
    """Collects the inputs of one document; appends warnings to a shared list."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.inputs: list[RecipeInput] = []
        self.base: ModelRef | None = None

    def _params(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.warnings.append(f"{where}: parameters are not a mapping; ignored")
        return {}

    def add(
        self,
        value: Any,
        role: InputRole,
        *,
        parameters: dict[str, Any] | None = None,
        layer_range: Any = None,
    ) -> None:
        if len(self.inputs) >= MAX_INPUTS:
            return
        ref = parse_ref(value, self.warnings)
        if ref is None:
            self.warnings.append(f"{role} entry without a model reference ignored")
            return
        rng: list[Any] | None = None
        if layer_range is not None:
            if isinstance(layer_range, list) and len(layer_range) == 2:
                rng = layer_range
            else:
                self.warnings.append(f"{ref.model[:80]}: malformed layer_range ignored")
        self.inputs.append(RecipeInput.from_ref(ref, role, parameters=parameters, layer_range=rng))

    def add_model_entries(self, entries: Any, role: InputRole, where: str) -> None:
        if not isinstance(entries, list):
            if entries is not None:
                self.warnings.append(f"{where} is not a list; ignored")
            return
        for entry in entries:
            if isinstance(entry, dict) and "model" in entry:
                self.add(
                    entry.get("model"),
                    role,
                    parameters=self._params(entry.get("parameters"), where),
                    layer_range=entry.get("layer_range"),
                )
            elif isinstance(entry, str | dict):
                self.add(entry, role)
            else:
                self.warnings.append(f"{where}: entry of type {type(entry).__name__} ignored")

    def add_slices(self, slices: Any) -> Any:
        """Add every slice source; return the first slice-level ``base_model`` seen."""
        slice_base = None
        if not isinstance(slices, list):
            self.warnings.append("slices is not a list; ignored")
            return None
        for item in slices:
            if not isinstance(item, dict):
                self.warnings.append("slice that is not a mapping ignored")
                continue
            if slice_base is None and item.get("base_model") is not None:
                slice_base = item.get("base_model")
            self.add_model_entries(item.get("sources"), "slice", "slice sources")
        return slice_base


def _text(value: Any, limit: int = MAX_REF_CHARS) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:limit] or None


def _tokenizer_source(data: dict[str, Any], warnings: list[str]) -> str | None:
    value = data.get("tokenizer_source")
    block = data.get("tokenizer")
    if value is None and isinstance(block, dict):
        value = block.get("source")
    if isinstance(value, dict):
        ref = parse_ref(value, warnings)
        return ref.model if ref else None
    return _text(value)


def _single_source_slices(slices: Any) -> bool:
    """True for a non-empty list of slices that each read one layer range of one model."""
    return (
        isinstance(slices, list)
        and bool(slices)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("sources"), list)
            and len(item["sources"]) == 1
            and isinstance(item["sources"][0], dict)
            and "layer_range" in item["sources"][0]
            for item in slices
        )
    )


def build_stage(data: dict[str, Any], warnings: list[str]) -> Stage:
    """One YAML mapping → a :class:`Stage` (any known shape)."""
    builder = _StageBuilder(warnings)
    raw_params = data.get("parameters")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    base_value: Any = data.get("base_model")
    relation: RecipeRelation = "merge"
    method_value: Any = data.get("merge_method")
    if isinstance(data.get("genome"), dict):
        shape = "evolve"
        genome = data["genome"]
        method_value = genome.get("merge_method", method_value)
        base_value = genome.get("base_model", base_value)
        builder.add_model_entries(genome.get("models"), "ingredient", "genome models")
    elif "experts" in data:
        shape, relation, method_value = "moe", "moe", "moe"
        params = {
            k: data[k]
            for k in ("gate_mode", "experts_per_token", "architecture")
            if k in data and not isinstance(data[k], dict | list)
        }
        for key, shared in (("experts", False), ("shared_experts", True)):
            experts = data.get(key)
            if experts is None:
                continue
            if not isinstance(experts, list):
                warnings.append(f"{key} is not a list; ignored")
                continue
            for expert in experts:
                if not isinstance(expert, dict):
                    warnings.append(f"{key}: entry that is not a mapping ignored")
                    continue
                extra = {k: v for k, v in expert.items() if k != "source_model"}
                if shared:
                    extra["shared"] = True
                builder.add(expert.get("source_model"), "expert", parameters=extra)
    elif "merge_method" not in data and isinstance(data.get("method"), str):
        shape = "mlx"
        method_value = data["method"]
        models = data.get("models")
        if isinstance(models, list) and models and base_value is None:
            base_value = models[0]  # mlx_lm.merge: the first model is the base
        builder.add_model_entries(models, "ingredient", "models")
    elif "slices" in data:
        shape = "slices"
        slice_base = builder.add_slices(data.get("slices"))
        if base_value is None:
            base_value = slice_base
    elif "modules" in data:
        shape = "modules"
        modules = data.get("modules")
        if isinstance(modules, dict):
            for name, module in modules.items():
                if not isinstance(module, dict):
                    warnings.append(f"module {name[:80]!r} is not a mapping; ignored")
                    continue
                if base_value is None:
                    base_value = module.get("base_model")
                builder.add_model_entries(module.get("models"), "ingredient", "module models")
                if "slices" in module:
                    builder.add_slices(module.get("slices"))
        else:
            warnings.append("modules is not a mapping; ignored")
    else:
        shape = "models"
        builder.add_model_entries(data.get("models"), "ingredient", "models")

    merge_method = _text(method_value, 100)
    if merge_method is None and shape == "slices" and _single_source_slices(data.get("slices")):
        # Slices of one source each only stack layers: mergekit's passthrough.
        merge_method = "passthrough"
        warnings.append("recipe has no merge_method; slices of one source each read as passthrough")
    elif merge_method is None:
        warnings.append("recipe has no merge_method")
    base_ref = parse_ref(base_value, warnings) if base_value is not None else None
    inputs = resolve_roles(merge_method, base_ref, builder.inputs, warnings)
    if not builder.inputs:
        warnings.append("recipe lists no input models")
    if (
        relation == "moe"
        and len(builder.inputs) >= 2
        and len({(i.model, i.lora) for i in inputs}) == 1
    ):
        # Experts that are all copies of one model stay a MoE (its routed copies
        # are still experts); the model is one parent.
        warnings.append(f"every expert is the same model {inputs[0].model[:100]!r}: one parent")
    return Stage(
        name=_text(data.get("name"), 200),
        merge_method=merge_method,
        relation=relation,
        shape=shape,
        base_model=base_ref.model if base_ref else None,
        inputs=inputs,
        dtype=_text(data.get("dtype") or data.get("out_dtype"), 20),
        tokenizer_source=_tokenizer_source(data, warnings),
        parameters=params,
    )


def _link_stages(stage: Stage, names: set[str]) -> Stage:
    """Drop references to earlier stages' names: they are intermediate results, not models."""
    own = {stage.name} if stage.name else set()
    refs: dict[str, None] = {}
    kept: list[RecipeInput] = []
    base_stage = None
    for item in stage.inputs:
        if not item.resolved and item.model in names - own:
            if item.model == stage.base_model:
                base_stage = item.model
            if item.role != "base":  # merged as an input, not subtracted
                refs.setdefault(item.model, None)
            continue
        kept.append(item)
    if len(kept) == len(stage.inputs):
        return stage
    return replace(
        stage,
        base_model=None if base_stage else stage.base_model,
        base_stage=base_stage,
        inputs=tuple(kept),
        stage_refs=tuple(refs),
    )


def _canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def recipe_from_documents(
    documents: Sequence[dict[str, Any]], *, raw_text: str, warnings: list[str]
) -> Recipe | None:
    """Build a recipe from recipe mappings in file order; ``None`` when there are none.

    The unnamed document is the final merge (mergekit-multi); if every document
    is named, or several are unnamed, the last one is taken as final with a
    warning.  Identical documents (a recipe repeated in a card) count once.
    """
    unique: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc in documents:
        key = _canonical(doc)
        if key not in seen:
            seen.add(key)
            unique.append(doc)
    if len(unique) > MAX_STAGES:
        warnings.append(f"{len(unique)} recipe documents; only the last {MAX_STAGES} kept")
        unique = unique[-MAX_STAGES:]
    stages = [build_stage(doc, warnings) for doc in unique]
    if not stages:
        return None
    unnamed = [i for i, s in enumerate(stages) if s.name is None]
    if len(unnamed) == 1:
        final_index = unnamed[0]
    else:
        final_index = len(stages) - 1
        if len(stages) > 1:
            warnings.append(
                "several recipes without one unnamed final stage; the last one is taken as final"
            )
    named: list[Stage] = []
    for i, stage in enumerate(stages):
        if stage.name is None and i != final_index:
            stage = replace(stage, name=f"stage_{i + 1}")
        named.append(stage)
    names = {s.name for s in named if s.name}
    linked = [_link_stages(s, names) for s in named]
    final = linked[final_index]
    earlier = tuple(s for i, s in enumerate(linked) if i != final_index)
    return Recipe(final=final, earlier=earlier, raw_text=raw_text)
