"""Entry points: parse a model card, a merge config, or a file holding either.

:func:`parse_card` and :func:`parse_config` are pure (no I/O) and never raise:
whatever they cannot read becomes a warning.  :func:`parse_file` reads a file
(bounded) and raises :class:`crawler.errors.UnreadableInputError` only when the
file itself cannot be read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kinhub.crawler.errors import UnreadableInputError
from kinhub.crawler.findrecipe import card_recipe, config_docs
from kinhub.crawler.frontmatter import read_front_matter
from kinhub.crawler.prose import ProseRecipe, read_prose
from kinhub.crawler.prose_forms import ProseFacts, read_prose_forms
from kinhub.crawler.quoted import describes_the_base, recipe_models, training_evidence
from kinhub.crawler.recipe import (
    InputRole,
    Recipe,
    RecipeInput,
    recipe_from_documents,
    resolve_roles,
)
from kinhub.crawler.refs import parse_ref
from kinhub.crawler.result import (
    Kind,
    ParseResult,
    RecipeOrigin,
    Weights,
    infer_relation,
    weights_kind,
)
from kinhub.crawler.yamlsafe import short_error
from kinhub.db.ids import is_repo_id

logger = logging.getLogger(__name__)

MAX_CARD_CHARS = 1_000_000
"""Cards longer than this are truncated (with a warning) before any parsing."""
MAX_CONFIG_CHARS = 512_000
MAX_FILE_BYTES = 4 * MAX_CARD_CHARS

_MARKDOWNISH = re.compile(r"(?m)^(?:#{1,6} |```|~~~)")


def _prepare(text: Any, limit: int, what: str, warnings: list[str]) -> str:
    if isinstance(text, bytes | bytearray):
        text = bytes(text[: limit * 4]).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        warnings.append(f"{what} is not text ({type(text).__name__}); ignored")
        return ""
    if len(text) > limit:
        warnings.append(f"{what} truncated from {len(text)} to {limit} characters")
        text = text[:limit]
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _prose_inputs(models: list[str], warnings: list[str]) -> tuple[RecipeInput, ...]:
    inputs: list[RecipeInput] = []
    for text in models:
        ref = parse_ref(text, warnings)
        if ref is not None:
            inputs.append(RecipeInput.from_ref(ref, "ingredient"))
    return tuple(inputs)


def _compare_declared(recipe: Recipe, declared: list[str], warnings: list[str]) -> None:
    """Warn when front-matter ``base_model`` and the recipe name different Hub models
    (mergekit writes every referenced Hub repo, LoRAs included, into ``base_model``)."""
    used: dict[str, None] = {}
    for stage in (recipe.final, *recipe.earlier):
        for item in stage.inputs:
            if item.resolved:
                used.setdefault(item.model, None)
            if item.lora is not None and is_repo_id(item.lora):
                used.setdefault(item.lora, None)
    missing = [m for m in used if m not in declared]
    unused = [d for d in declared if d not in used]
    if missing:
        warnings.append(
            "recipe uses models missing from front-matter base_model: " + ", ".join(missing[:5])
        )
    if unused:
        warnings.append(
            "front-matter base_model lists models the recipe does not use: " + ", ".join(unused[:5])
        )


_FORM_ROLES: dict[str, InputRole] = {"merge": "ingredient", "moe": "expert"}


def _prose_merge(
    prose: ProseRecipe, forms: ProseFacts, warnings: list[str]
) -> tuple[str | None, str | None, tuple[RecipeInput, ...], str | None]:
    """``(method, base, inputs, relation)`` of a merge the card tells only in prose:
    mergekit's generated sentence and bullets first, hand-written forms after."""
    method = prose.merge_method
    base_text = prose.base
    inputs = _prose_inputs(prose.models, warnings)
    relation: str | None = "merge" if inputs or method else None
    if forms.relation in ("merge", "moe"):
        method = method or forms.method
        base_text = base_text or forms.base
        if not inputs:
            relation = forms.relation
            role: InputRole = "slice" if forms.method == "passthrough" else "ingredient"
            role = _FORM_ROLES["moe"] if forms.relation == "moe" else role
            inputs = tuple(RecipeInput(model=m, role=role) for m in forms.models)
            if forms.self_merge:
                warnings.append(
                    f"self-merge of {forms.models[0]!r} (told by the card prose): a single parent"
                )
    base_ref = parse_ref(base_text, warnings) if base_text is not None else None
    if base_ref is not None or inputs:
        inputs = resolve_roles(method, base_ref, inputs, warnings)
    return method, (base_ref.model if base_ref else None), inputs, relation


def _parse_card(
    text: Any, file: str, warnings: list[str], files: Sequence[str] | None = None
) -> ParseResult:
    text = _prepare(text, MAX_CARD_CHARS, "card", warnings)
    fm, body = read_front_matter(text, warnings)
    recipe, prose_lines = card_recipe(body, warnings)
    trained = training_evidence(fm, prose_lines)
    quoted = False
    if recipe is not None and trained is not None:
        used = recipe_models(recipe)
        resolved = any(i.resolved for s in (recipe.final, *recipe.earlier) for i in s.inputs)
        if describes_the_base(used, fm.base_models, resolved):
            warnings.append(
                f"the recipe on the card does not use its declared base "
                f"{fm.base_models[0][:100]!r} ({trained}): read as the base's recipe, "
                "the model as trained from that base"
            )
            recipe, quoted = None, True
    prose = read_prose(prose_lines) if not quoted else ProseRecipe()
    known = [*fm.base_models, *(t for t in fm.tags if is_repo_id(t))]
    forms = read_prose_forms(prose_lines, known) if recipe is None and not quoted else ProseFacts()
    weights: Weights | None = weights_kind(files)
    prose_method = prose.merge_method
    prose_base = None
    prose_inputs: tuple[RecipeInput, ...] = ()
    prose_relation: str | None = None
    evidence: list[str] = []
    if recipe is None:
        prose_method, prose_base, prose_inputs, prose_relation = _prose_merge(
            prose, forms, warnings
        )
        told = {i.model for i in prose_inputs} | ({prose_base} if prose_base else set())
        if (
            prose_relation in ("merge", "moe")
            and trained is not None
            and describes_the_base(told, fm.base_models, True)
        ):
            warnings.append(
                f"the merge told in the card prose does not name its declared base "
                f"{fm.base_models[0][:100]!r} ({trained}): not this model's merge"
            )
            prose = ProseRecipe()
            prose_method, prose_base, prose_inputs, prose_relation = None, None, (), None
            forms = ProseFacts()
        if prose_relation is not None:
            evidence = [*([prose.sentence] if prose.sentence else []), *forms.evidence]
            warnings.append("no readable YAML recipe; merge details taken from the card prose")
        elif forms.relation in ("finetune", "adapter") and forms.base is not None:
            prose_base = forms.base
            prose_relation = forms.relation
            evidence = list(forms.evidence)
            if not fm.base_models:
                warnings.append(f"base model {forms.base!r} named only in the card prose")
    elif (
        prose.merge_method
        and recipe.final.merge_method
        and prose.merge_method != recipe.final.merge_method
    ):
        warnings.append(
            f"card prose names merge method {prose.merge_method!r} "
            f"but the recipe says {recipe.final.merge_method[:100]!r}"
        )
    if recipe is not None and fm.base_models:
        _compare_declared(recipe, fm.base_models, warnings)
    relation = infer_relation(
        recipe_relation=recipe.final.relation if recipe else None,
        declared_relation=fm.relation,
        n_bases=len(fm.base_models),
        has_prose_method=prose.merge_method is not None and recipe is None,
        tags=fm.tags,
        library_name=fm.library_name,
        prose_relation=prose_relation,
        weights=weights,
    )
    if recipe is None and prose_relation in ("merge", "moe") and relation not in ("merge", "moe"):
        # The metadata declares another relation: the merge the prose tells is not
        # this model's (an adapter of a merged base), and names none of its parents.
        warnings.append(
            f"base_model_relation {relation!r} declared; the merge told in the card prose "
            "is not this model's"
        )
        prose_method, prose_base, prose_inputs, evidence = None, None, (), []
    if relation == "moe" and recipe is None:
        # A MoE (tagged or told so) lists experts, whatever the prose called them.
        prose_inputs = tuple(
            replace(i, role="expert") if i.role == "ingredient" else i for i in prose_inputs
        )
    if recipe and fm.relation and fm.relation != relation:
        warnings.append(
            f"base_model_relation {fm.relation!r} contradicts the recipe ({relation}); "
            "the recipe wins"
        )
    origin: RecipeOrigin | None = None
    if recipe is not None:
        origin = "yaml"
    elif prose_inputs or prose_method:
        origin = "prose"
    return ParseResult(
        file=file,
        kind="card",
        relation=relation,
        recipe=recipe,
        recipe_origin=origin,
        prose_method=prose_method,
        prose_base=prose_base,
        prose_inputs=prose_inputs,
        front_matter=fm.position,
        declared_base_models=fm.base_models,
        declared_resolved=fm.base_models_resolved,
        base_model_relation=fm.relation,
        evaluations=fm.evaluations,
        license=fm.license,
        tags=fm.tags,
        library_name=fm.library_name,
        pipeline_tag=fm.pipeline_tag,
        prose_evidence=[e[:500] for e in evidence],
        weights=weights,
        warnings=list(dict.fromkeys(warnings)),
    )


def _never_raising(
    parse: Callable[[Any, str, list[str]], ParseResult], text: Any, file: str, kind: Kind
) -> ParseResult:
    """Run a parser; an unexpected exception becomes a warning on an empty result."""
    warnings: list[str] = []
    try:
        return parse(text, file, warnings)
    except Exception as exc:  # last line of defence: bad input must never escape
        logger.exception("%s parser failed on %s", kind, file)
        return ParseResult(
            file=file, kind=kind, warnings=[*warnings, f"internal error: {short_error(exc)}"]
        )


def parse_card(
    text: str, *, file: str = "README.md", files: Sequence[str] | None = None
) -> ParseResult:
    """Parse a model card (README.md text) into a :class:`ParseResult`.  Never raises.

    ``files``: the repo's file names (the Hub's ``siblings``), when known; an
    ``adapter_config.json`` among them makes the weights an adapter, model
    weights without it a full fine-tune (:func:`crawler.result.weights_kind`).
    """
    return _never_raising(lambda t, f, w: _parse_card(t, f, w, files), text, file, "card")


def _parse_config(text: Any, file: str, warnings: list[str]) -> ParseResult:
    text = _prepare(text, MAX_CONFIG_CHARS, "config", warnings)
    documents = config_docs(text, warnings)
    recipe = (
        recipe_from_documents(documents, raw_text=text, warnings=warnings) if documents else None
    )
    if recipe is None:
        warnings.append("no merge recipe found in config")
    return ParseResult(
        file=file,
        kind="config",
        relation=recipe.final.relation if recipe else None,
        recipe=recipe,
        recipe_origin="yaml" if recipe else None,
        warnings=list(dict.fromkeys(warnings)),
    )


def parse_config(text: str, *, file: str = "mergekit_config.yml") -> ParseResult:
    """Parse a merge config file's text into a :class:`ParseResult`.  Never raises."""
    return _never_raising(_parse_config, text, file, "config")


def detect_kind(name: str, text: str) -> Kind:
    """Card or config: by file name first (``*.md`` card, ``*.yml``/``*.yaml`` config),
    else by content (markdown headings or fences mean a card)."""
    lower = name.lower()
    if lower.endswith((".md", ".markdown")) or Path(lower).name == "readme":
        return "card"
    if lower.endswith((".yml", ".yaml")):
        return "config"
    return "card" if _MARKDOWNISH.search(text[:MAX_CARD_CHARS]) else "config"


def parse_file(path: str | Path, *, kind: Kind | None = None) -> ParseResult:
    """Read ``path`` (at most :data:`MAX_FILE_BYTES`) and parse it as a card or config.

    Raises:
        UnreadableInputError: the path is missing, a directory, or not readable.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnreadableInputError(name, exc.strerror or short_error(exc)) from exc
    notes: list[str] = []
    if len(data) > MAX_FILE_BYTES:
        data = data[:MAX_FILE_BYTES]
        notes.append(f"file larger than {MAX_FILE_BYTES} bytes; only the start was read")
    text = data.decode("utf-8", errors="replace")
    chosen = kind or detect_kind(name, text)
    result = parse_card(text, file=name) if chosen == "card" else parse_config(text, file=name)
    return replace(result, warnings=[*notes, *result.warnings]) if notes else result
