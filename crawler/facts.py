"""From a model's card, config and Hub tags to the records the database stores.

:func:`model_facts` is the one mapping both local ingest and the Hub crawl use,
so a model reads the same whichever way it arrived.  Never raises on bad content.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kinhub.crawler.frontmatter import HUB_RELATIONS
from kinhub.crawler.parse import parse_card, parse_config
from kinhub.crawler.recipe import Recipe, RecipeInput, Stage
from kinhub.crawler.refs import MAX_REF_CHARS
from kinhub.crawler.result import RELATIONS, ParseResult, infer_relation
from kinhub.crawler.yamlsafe import short_error
from kinhub.db.ids import is_repo_id
from kinhub.db.records import EdgeRecord, EdgeSource, EvaluationRecord, RecipeRecord, Relation, Role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardFacts:
    """Genealogy facts of one model, ready for ``db`` (every value JSON-serializable)."""

    edges: list[EdgeRecord] = field(default_factory=list)
    recipes: list[RecipeRecord] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    library_name: str | None = None
    pipeline_tag: str | None = None
    warnings: list[str] = field(default_factory=list)


class _Edges:
    """Ordered edges, one per (parent, role, source)."""

    def __init__(self) -> None:
        self.items: list[EdgeRecord] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, edge: EdgeRecord) -> None:
        key = (edge.parent, edge.role, edge.source)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(edge)


def _lora(item: RecipeInput) -> str | None:
    if item.lora is None:
        return None
    text = f"{item.lora}@{item.lora_revision}" if item.lora_revision else item.lora
    return text[:MAX_REF_CHARS]


def _group_parameters(group: list[RecipeInput]) -> dict[str, Any]:
    """Parameters of one edge; slices that read a model several times keep every range."""
    written = [i.parameters for i in group if i.parameters]
    params: dict[str, Any] = dict(written[0]) if written else {}
    ranges = [i.layer_range for i in group if i.layer_range is not None]
    if ranges:
        params["layer_ranges"] = ranges
    if len({repr(sorted(p.items())) for p in written}) > 1:
        params["per_occurrence"] = written
    return params


def _stage_edges(stage: Stage, stage_name: str | None, source: EdgeSource, out: _Edges) -> None:
    relation: Relation = stage.relation
    groups: dict[tuple[str, Role], list[RecipeInput]] = {}
    for item in stage.inputs:
        # Roles follow the merge method (crawler.recipe.resolve_roles): a subtracted
        # base listed among the models too gives one base edge.
        role: Role = item.role
        groups.setdefault((item.model, role), []).append(item)
    for (model, role), group in groups.items():
        first = group[0]
        out.add(
            EdgeRecord(
                parent=model[:MAX_REF_CHARS],
                relation=relation,
                role=role,
                source=source,
                parent_resolved=first.resolved and is_repo_id(model),
                parameters=_group_parameters(group),
                revision=next((i.revision for i in group if i.revision), None),
                lora=next((_lora(i) for i in group if i.lora), None),
                stage=stage_name[:200] if stage_name else None,
            )
        )


def _recipe_edges(recipe: Recipe, source: EdgeSource, out: _Edges) -> None:
    _stage_edges(recipe.final, None, source, out)
    for stage in recipe.earlier:
        _stage_edges(stage, stage.name, source, out)


def _cap(value: str | None, limit: int) -> str | None:
    """Fit a value into its database column (``None`` stays ``None``)."""
    return value[:limit] if value else None


def _prose_edges(card: ParseResult, out: _Edges) -> None:
    """``card_prose`` edges: the merge inputs the prose names, or the parent of a
    fine-tune / adapter named only in the prose (role ``parent``; a parent the
    front matter declares too gets no second, weaker edge)."""
    relation = card.relation
    if relation is None:
        return
    if card.prose_inputs and relation in ("merge", "moe"):
        _stage_edges(
            Stage(
                name=None,
                merge_method=card.prose_method,
                relation=relation,
                shape="prose",
                inputs=card.prose_inputs,
            ),
            None,
            "card_prose",
            out,
        )
    elif (
        card.prose_base is not None
        and relation in ("finetune", "adapter", "quantized")
        and card.prose_base not in card.declared_base_models
    ):
        out.add(
            EdgeRecord(
                parent=card.prose_base[:MAX_REF_CHARS],
                relation=relation,
                role="parent",
                source="card_prose",
                parent_resolved=is_repo_id(card.prose_base),
            )
        )


def _recipe_record(result: ParseResult, source: EdgeSource, prefix: str) -> RecipeRecord:
    final = result.final
    return RecipeRecord(
        source=source,
        merge_method=_cap(result.merge_method, 100),
        base_model=_cap(result.base_model, MAX_REF_CHARS),
        dtype=final.dtype if final else None,
        tokenizer_source=final.tokenizer_source if final else None,
        stages=[s.to_json() for s in result.recipe.earlier] if result.recipe else [],
        raw_text=result.recipe.raw_text if result.recipe else "\n".join(result.prose_evidence),
        warnings=[f"{prefix}: {w}" for w in result.warnings],
    )


def _hub_tag_edges(
    hub_tags: Sequence[str], fallback: Relation | None, n_declared: int, out: _Edges
) -> list[str]:
    """Add ``base_model:[<relation>:]<id>`` tag edges; return warnings.

    A plain tag for an id that also has a typed tag adds nothing; other plain
    tags take ``fallback`` (the card's relation) or one inferred from their count.
    """
    warnings: list[str] = []
    typed: list[tuple[str, str]] = []
    plain: list[str] = []
    for tag in hub_tags:
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        parts = tag.split(":", 2)
        if len(parts) == 3 and parts[1] in HUB_RELATIONS:
            typed.append((parts[1], parts[2]))
        elif len(parts) == 2:
            plain.append(parts[1])
        else:
            warnings.append(f"hub tag {tag[:120]!r} not understood")
    typed_ids = {repo_id for _, repo_id in typed}
    plain = [p for p in dict.fromkeys(plain) if p not in typed_ids]
    relation = fallback or infer_relation(
        recipe_relation=None,
        declared_relation=None,
        n_bases=max(len(plain), n_declared),
        tags=hub_tags,
    )
    pairs = [*typed, *((relation, p) for p in plain)]
    for rel, repo_id in pairs:
        if not is_repo_id(repo_id):
            warnings.append(f"hub tag names an invalid model id {repo_id[:120]!r}; skipped")
            continue
        out.add(
            EdgeRecord(
                parent=repo_id,
                relation=RELATIONS.get(rel or "", "finetune"),
                role="parent",
                source="hub_tag",
            )
        )
    return warnings


def _facts(
    card_text: str | None,
    config_text: str | None,
    config_name: str,
    hub_tags: Sequence[str],
    files: Sequence[str] | None,
) -> CardFacts:
    warnings: list[str] = []
    edges = _Edges()
    recipes: list[RecipeRecord] = []
    card = parse_card(card_text, file="README.md", files=files) if card_text is not None else None
    config = parse_config(config_text, file=config_name) if config_text is not None else None
    if config is not None:
        warnings.extend(f"config: {w}" for w in config.warnings)
        if config.recipe is not None:
            _recipe_edges(config.recipe, "mergekit_config", edges)
            recipes.append(_recipe_record(config, "mergekit_config", "config"))
    if card is not None:
        warnings.extend(f"card: {w}" for w in card.warnings)
        if card.recipe is not None:
            _recipe_edges(card.recipe, "card_recipe", edges)
            recipes.append(_recipe_record(card, "card_recipe", "card"))
        elif config is None or config.recipe is None:
            # Read from prose: kept apart from recipe evidence (source card_prose, the
            # evidence lines as the recipe's text); a config recipe makes it redundant.
            if card.recipe_origin == "prose":
                recipes.append(_recipe_record(card, "card_prose", "card"))
            _prose_edges(card, edges)
        if (
            config is not None
            and config.merge_method
            and card.merge_method
            and config.merge_method != card.merge_method
        ):
            warnings.append(
                f"config merge method {config.merge_method!r} differs from the card's "
                f"{card.merge_method!r}; both kept"
            )
    config_relation = config.relation if config is not None and config.recipe else None
    card_tags = card.tags if card else []
    metadata_relation: Relation | None = None
    if card is not None:
        metadata_relation = infer_relation(
            recipe_relation=None,
            declared_relation=card.base_model_relation,
            n_bases=0,
        ) or (config_relation or card.relation)
        for parent, resolved in zip(
            card.declared_base_models, card.declared_resolved, strict=False
        ):
            edges.add(
                EdgeRecord(
                    parent=parent[:MAX_REF_CHARS],
                    relation=metadata_relation or "finetune",
                    role="parent",
                    source="card_metadata",
                    parent_resolved=resolved,
                )
            )
    warnings.extend(
        f"hub_tags: {w}"
        for w in _hub_tag_edges(
            hub_tags,
            metadata_relation or config_relation,
            len(card.declared_base_models) if card else 0,
            edges,
        )
    )
    tags = list(dict.fromkeys([*card_tags, *(t for t in hub_tags if isinstance(t, str))]))
    license_ = card.license if card else None
    if license_ is None:
        license_ = next(
            (t.partition(":")[2] for t in tags if t.startswith("license:") and len(t) > 8), None
        )
    return CardFacts(
        edges=edges.items,
        recipes=recipes,
        evaluations=list(card.evaluations) if card else [],
        license=license_,
        tags=tags,
        library_name=card.library_name if card else None,
        pipeline_tag=card.pipeline_tag if card else None,
        warnings=warnings,
    )


def model_facts(
    *,
    card_text: str | None,
    config_text: str | None,
    config_name: str = "mergekit_config.yml",
    hub_tags: Sequence[str] = (),
    files: Sequence[str] | None = None,
) -> CardFacts:
    """Edges, recipes, evaluations and metadata of one model from its card, its merge
    config (``mergekit_config.yml`` or ``mergekit_moe_config.yml``) and its Hub tags.

    Edge sources: the config recipe → ``mergekit_config``; a YAML recipe in the
    card → ``card_recipe``; a merge, MoE, self-merge or base model told only in the
    card's prose → ``card_prose`` (not when a recipe exists); front-matter
    ``base_model`` → ``card_metadata`` (role ``parent``); ``base_model:[<relation>:]<id>``
    Hub tags → ``hub_tag``.  ``files``: the repo's file names when known (the Hub's
    ``siblings``); they tell an adapter (``adapter_config.json``) from full
    weights.  Never raises on bad content (problems are in ``warnings``).
    """
    try:
        return _facts(card_text, config_text, config_name, hub_tags, files)
    except Exception as exc:  # last line of defence: bad input must never escape
        logger.exception("model_facts failed")
        return CardFacts(warnings=[f"internal error: {short_error(exc)}"])
