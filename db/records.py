"""Plain records that the crawler (and ingest) hand to the database layer.

They are the contract between ``crawler/`` and ``db/``: frozen, typed, and free of
any ORM or network concern.  ``db.store`` turns them into rows idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Relation = Literal["merge", "moe", "finetune", "adapter", "quantized"]
Role = Literal["base", "ingredient", "expert", "slice", "parent"]
# card_prose: read from free prose (a guess), ranked below every recipe source.
EdgeSource = Literal["mergekit_config", "card_recipe", "card_prose", "card_metadata", "hub_tag"]
ModelStatus = Literal[
    "ok",  # crawled or ingested, facts are current
    "pending",  # referenced, not fetched yet
    "unresolved",  # a reference that is not a Hub id (local path, short name)
    "not_found",
    "gated",
    "private",
    "error",
]


@dataclass(frozen=True)
class EdgeRecord:
    """One piece of evidence that ``child`` was made from ``parent``.

    ``parent`` is a valid Hub id when ``parent_resolved`` is true, else the
    reference text as written (kept as an *unresolved* node, never a path).
    """

    parent: str
    relation: Relation
    role: Role
    source: EdgeSource
    parent_resolved: bool = True
    parameters: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    lora: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class RecipeRecord:
    """A parsed merge recipe as stored (one per model and source)."""

    source: EdgeSource
    merge_method: str | None
    base_model: str | None
    dtype: str | None = None
    tokenizer_source: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    raw_text: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvaluationRecord:
    """One benchmark score from a card's ``model-index``."""

    task: str
    dataset: str
    metric: str
    value: float | None
    source_name: str | None = None


@dataclass(frozen=True)
class SourceTexts:
    """The raw texts the parser read for a model, kept so a newer parser can
    re-read them without the Hub (``kinhub db reparse``).  ``None``: no such file.

    ``files``: the repo's file names the parser was given (they tell an adapter from
    full weights); ``None`` when not known (a listing without files, older rows)."""

    card_text: str | None = None
    config_name: str | None = None
    config_text: str | None = None
    files: list[str] | None = None


@dataclass(frozen=True)
class ModelRecord:
    """Everything kinhub knows about one Hub model at one sha."""

    repo_id: str
    sha: str | None = None
    status: ModelStatus = "ok"
    last_error: str | None = None
    created_at: datetime | None = None
    last_modified: datetime | None = None
    tags: list[str] = field(default_factory=list)
    license: str | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    num_parameters: int | None = None
    downloads: int | None = None
    likes: int | None = None
    gated: str | None = None
    private: bool = False
    edges: list[EdgeRecord] = field(default_factory=list)
    recipes: list[RecipeRecord] = field(default_factory=list)
    evaluations: list[EvaluationRecord] = field(default_factory=list)
    # What the edges, recipes and evaluations were parsed from, and by which parser
    # version (``kinhub.crawler.version.PARSER_VERSION``); None: texts not kept.
    texts: SourceTexts | None = None
    parser_version: int = 0
