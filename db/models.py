"""SQLModel tables: the nouns of DESIGN.md and the constraints that keep them clean.

Datetimes are timezone-aware UTC (SQLModel's UTCDateTime; SQLite stores them
without an offset and they come back as UTC).  JSON columns hold lists/dicts exactly as parsed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kinhub.db.timeutil import utcnow
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql.expression import false as sa_false
from sqlmodel import Field, SQLModel

# Counts that outgrow 32 bits (a 7B model's parameters, bytes read): BIGINT on
# PostgreSQL.  SQLite's INTEGER already holds 64 bits, and changing its declared
# type would mean rebuilding tables that others reference (the rebuild's DROP
# cascades with foreign keys on), so SQLite keeps INTEGER.
BIG_INTEGER = BigInteger().with_variant(Integer(), "sqlite")


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


def _big(default: int | None, *, nullable: bool) -> Any:
    return Field(default=default, sa_column=Column(BIG_INTEGER, nullable=nullable))


class Model(SQLModel, table=True):
    """A Hub repo (or an unresolved reference that a recipe names)."""

    __tablename__ = "model"

    id: int | None = Field(default=None, primary_key=True)
    repo_id: str = Field(max_length=300, unique=True, index=True)
    sha: str | None = Field(default=None, max_length=64)
    status: str = Field(default="ok", max_length=20, index=True)
    last_error: str | None = None
    created_at: datetime | None = None
    last_modified: datetime | None = Field(default=None, index=True)
    tags: list[str] = _json(list)
    license: str | None = Field(default=None, max_length=200)
    library_name: str | None = Field(default=None, max_length=100)
    pipeline_tag: str | None = Field(default=None, max_length=100)
    architectures: list[str] = _json(list)
    model_type: str | None = Field(default=None, max_length=100)
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    num_parameters: int | None = _big(None, nullable=True)
    downloads: int | None = _big(None, nullable=True)
    likes: int | None = None
    gated: str | None = Field(default=None, max_length=20)
    private: bool = False
    # Consecutive failed attempts (status ``error``) and when the crawl may try again.
    error_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    retry_after: datetime | None = None
    first_seen: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Edge(SQLModel, table=True):
    """child → parent, one row per (relation, role, source) of evidence."""

    __tablename__ = "edge"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id", "relation", "role", "source", name="uq_edge"),
        Index("ix_edge_child", "child_id", "parent_id"),
        Index("ix_edge_parent", "parent_id", "child_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="model.id", ondelete="CASCADE")
    parent_id: int = Field(foreign_key="model.id", ondelete="CASCADE")
    relation: str = Field(max_length=20)
    role: str = Field(max_length=20)
    source: str = Field(max_length=20)
    parameters: dict[str, Any] = _json(dict)
    revision: str | None = Field(default=None, max_length=200)
    lora: str | None = Field(default=None, max_length=300)
    stage: str | None = Field(default=None, max_length=200)


class Recipe(SQLModel, table=True):
    """The parsed merge recipe of a model, one per evidence source."""

    __tablename__ = "recipe"
    __table_args__ = (UniqueConstraint("model_id", "source", name="uq_recipe"),)

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", ondelete="CASCADE", index=True)
    source: str = Field(max_length=20)
    merge_method: str | None = Field(default=None, max_length=100)
    base_model: str | None = Field(default=None, max_length=300)
    dtype: str | None = Field(default=None, max_length=20)
    tokenizer_source: str | None = Field(default=None, max_length=300)
    stages: list[dict[str, Any]] = _json(list)
    raw_text: str = ""
    warnings: list[str] = _json(list)
    # The parser version that produced this row; older rows are re-parsed (db reparse).
    parser_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Evaluation(SQLModel, table=True):
    """A benchmark score from a card's ``model-index``."""

    __tablename__ = "evaluation"
    __table_args__ = (
        UniqueConstraint("model_id", "task", "dataset", "metric", name="uq_evaluation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", ondelete="CASCADE", index=True)
    task: str = Field(max_length=200)
    dataset: str = Field(max_length=300)
    metric: str = Field(max_length=200)
    value: float | None = None
    source_name: str | None = Field(default=None, max_length=300)


# Scalar metrics of the registry (kinship/metrics.py) that have their own REAL column;
# a test keeps this list in step with the registry.  Anything else lives in ``extra``.
KINSHIP_METRIC_COLUMNS = ("cs", "pcc", "ed", "sign", "ratio")


class Kinship(SQLModel, table=True):
    """Metric values for a pair (A, B) against a base, one row per measurement's inputs.

    ``model_a``/``model_b``/``base`` keep the reference as given (Hub id, optionally
    ``@rev``, or a local folder's absolute path); the ``*_id`` columns link Hub ids to
    their model row and stay NULL for local folders.  Scalar metrics are columns (NULL:
    not computed, or not finite, see ``extra``); other metrics live in ``extra``.
    """

    __tablename__ = "kinship"
    __table_args__ = (
        UniqueConstraint("pair_key", name="uq_kinship_key"),
        Index("ix_kinship_pair", "model_a", "model_b"),
        # "the lowest pcc (cs, ed) involving model X" reads one of these in order.
        Index("ix_kinship_a_pcc", "model_a_id", "pcc"),
        Index("ix_kinship_b_pcc", "model_b_id", "pcc"),
        Index("ix_kinship_a_cs", "model_a_id", "cs"),
        Index("ix_kinship_b_cs", "model_b_id", "cs"),
        Index("ix_kinship_a_ed", "model_a_id", "ed"),
        Index("ix_kinship_b_ed", "model_b_id", "ed"),
        Index("ix_kinship_base", "base_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Stable key over (a, b, base, content fingerprints, mode, convention, sample, seed).
    pair_key: str = Field(max_length=64)
    model_a: str = Field(max_length=300)
    model_b: str = Field(max_length=300)
    base: str = Field(max_length=300)
    model_a_id: int | None = Field(default=None, foreign_key="model.id", ondelete="SET NULL")
    model_b_id: int | None = Field(default=None, foreign_key="model.id", ondelete="SET NULL")
    base_id: int | None = Field(default=None, foreign_key="model.id", ondelete="SET NULL")
    revision_a: str | None = Field(default=None, max_length=200)
    revision_b: str | None = Field(default=None, max_length=200)
    revision_base: str | None = Field(default=None, max_length=200)
    mode: str = Field(default="exact", max_length=20)
    convention: str = Field(default="native", max_length=20)
    sample_fraction: float | None = None
    seed: int | None = _big(None, nullable=True)
    cs: float | None = None
    pcc: float | None = None
    ed: float | None = None
    sign: float | None = None
    ratio: float | None = None
    extra: dict[str, Any] = _json(dict)
    intervals: dict[str, Any] = _json(dict)
    params_compared: int = _big(0, nullable=False)
    bytes_read: int = _big(0, nullable=False)
    seconds: float = 0.0
    breakdown: dict[str, Any] = _json(dict)
    dropped: dict[str, Any] = _json(dict)
    computed_at: datetime = Field(default_factory=utcnow)


class KinshipJob(SQLModel, table=True):
    """One pair (or child/ingredient edge) + base to compute; workers lease jobs.

    ``job_key`` hashes kind, the canonical pair (``model_a < model_b``), base and the
    three revisions (NULLs are never equal in a PostgreSQL unique constraint, so the
    columns themselves cannot be the key); see ``kinhub.db.jobs.keys.job_key``.
    """

    __tablename__ = "kinship_job"
    __table_args__ = (
        UniqueConstraint("job_key", name="uq_kinship_job_key"),
        Index("ix_kinship_job_priority", "status", "priority"),
        Index("ix_kinship_job_status", "status", "lease_until"),
        Index("ix_kinship_job_model_a", "model_a"),
        Index("ix_kinship_job_model_b", "model_b"),
        Index("ix_kinship_job_base", "base"),
        # "which finished job produced this kinship row" (lineage's edge kinship, gain).
        Index("ix_kinship_job_kinship", "kinship_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_key: str = Field(max_length=64)
    kind: str = Field(default="pair", max_length=10)
    model_a: str = Field(max_length=300)
    model_b: str = Field(max_length=300)
    base: str = Field(max_length=300)
    revision_a: str | None = Field(default=None, max_length=200)
    revision_b: str | None = Field(default=None, max_length=200)
    revision_base: str | None = Field(default=None, max_length=200)
    child: str | None = Field(default=None, max_length=300)
    priority: int = _big(0, nullable=False)  # the busiest child's downloads
    status: str = Field(default="pending", max_length=20)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    mode: str | None = Field(default=None, max_length=20)
    kinship_id: int | None = Field(default=None, foreign_key="kinship.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class ModelText(SQLModel, table=True):
    """The raw texts the parser read for a model, so it can be re-parsed offline."""

    __tablename__ = "model_text"

    model_id: int = Field(primary_key=True, foreign_key="model.id", ondelete="CASCADE")
    sha: str | None = Field(default=None, max_length=64)
    card_text: str | None = Field(default=None, sa_type=Text)
    config_name: str | None = Field(default=None, max_length=200)
    config_text: str | None = Field(default=None, sa_type=Text)
    # The repo's file names the parser saw (adapter or full weights); None: not known.
    files: list[str] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    parser_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime = Field(default_factory=utcnow)


class CrawlState(SQLModel, table=True):
    """A named cursor/checkpoint, committed with the rows it covers."""

    __tablename__ = "crawl_state"

    key: str = Field(primary_key=True, max_length=300)
    cursor: str | None = None
    high_water: datetime | None = None
    data: dict[str, Any] = _json(dict)
    updated_at: datetime = Field(default_factory=utcnow)


class CrawlRun(SQLModel, table=True):
    """One crawl (or scheduled run) and its counts."""

    __tablename__ = "crawl_run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="crawl", max_length=20)
    scope: str = Field(default="merges", max_length=300)
    status: str = Field(default="running", max_length=20)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: dict[str, Any] = _json(dict)
    error: str | None = None


class RunLock(SQLModel, table=True):
    """A named lock row (SQLite); PostgreSQL uses advisory locks instead."""

    __tablename__ = "run_lock"

    name: str = Field(primary_key=True, max_length=100)
    owner: str = Field(max_length=200)
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class ArchSignature(SQLModel, table=True):
    """A model's architecture signature at one revision, from its safetensors headers.

    ``signature`` hashes the tensor names and shapes with the vocabulary rows masked
    (models whose signatures are equal can be merged by mergekit; a differing
    ``vocab_size`` then needs ``tokenizer_source``); ``exact`` hashes names, full shapes
    and dtypes.  See ``kinhub.db.signatures``.
    """

    __tablename__ = "arch_signature"
    __table_args__ = (
        UniqueConstraint("model_id", "revision", name="uq_arch_signature"),
        Index("ix_arch_signature_signature", "signature"),
    )

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", ondelete="CASCADE", index=True)
    revision: str = Field(max_length=200)
    signature: str = Field(max_length=64)
    exact: str = Field(max_length=64)
    model_type: str | None = Field(default=None, max_length=100)
    num_layers: int | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    dtype: str | None = Field(default=None, max_length=20)
    num_tensors: int = 0
    num_parameters: int = _big(0, nullable=False)
    source: str = Field(default="range", max_length=20)
    computed_at: datetime = Field(default_factory=utcnow)


class ModelAlias(SQLModel, table=True):
    """An old repo id that the Hub now redirects to ``repo_id`` (a renamed repo).

    The model is stored once, under ``repo_id``; edges that named the old id keep their
    parent row (status ``renamed``), and readers resolve it here.  See
    ``kinhub.db.aliases``.
    """

    __tablename__ = "model_alias"

    alias: str = Field(primary_key=True, max_length=300)
    repo_id: str = Field(max_length=300, index=True)
    recorded_at: datetime = Field(default_factory=utcnow)


class HubObject(SQLModel, table=True):
    """The Hub's object id (``_id``) of a stored repo: it survives a rename, so a repo
    listed under a new id is recognised as one already stored (``kinhub.db.aliases``)."""

    __tablename__ = "hub_object"

    hub_id: str = Field(primary_key=True, max_length=64)
    repo_id: str = Field(max_length=300, index=True)


class Setting(SQLModel, table=True):
    """A database-wide setting: a name and a short text value (``kinhub.db.settings``).

    Holds what later processes need to know about earlier ones: the Hub endpoint and
    plan of the last crawl (never a token or any credential), and the folder a model
    given to ``kinhub ingest`` was read from (a path the user gave, never one from a
    crawled card)."""

    __tablename__ = "setting"

    name: str = Field(primary_key=True, max_length=400)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class SketchPlan(SQLModel, table=True):
    """The coordinates a sketch samples, shared by every model with the same tensor
    names and shapes: per tensor its element count and the starts of its blocks
    (``layout``: ``[[name, numel, [start, …]], …]``), ``block`` elements each.  Keyed
    by a hash of the tensors, size, block and seed (``kinhub.kinship.sketch_plan``)."""

    __tablename__ = "sketch_plan"

    key: str = Field(primary_key=True, max_length=64)
    size: int
    block: int
    seed: int = _big(0, nullable=False)
    num_params: int = _big(0, nullable=False)
    layout: list[Any] = _json(list)
    created_at: datetime = Field(default_factory=utcnow)


class ModelSketch(SQLModel, table=True):
    """One model revision's sketch: its values at its plan's coordinates, float32
    little-endian in plan order (``data``), and what reading them cost."""

    __tablename__ = "model_sketch"
    __table_args__ = (
        UniqueConstraint("model_id", "revision", name="uq_model_sketch"),
        Index("ix_model_sketch_plan", "plan_key"),
        Index("ix_model_sketch_plan_model", "plan_key", "model_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="model.id", ondelete="CASCADE", index=True)
    revision: str = Field(max_length=200)
    plan_key: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    bytes_read: int = _big(0, nullable=False)
    resolver_requests: int = 0
    cdn_requests: int = 0
    seconds: float = 0.0
    computed_at: datetime = Field(default_factory=utcnow)


class WeightCheck(SQLModel, table=True):
    """Whether a child's weights agree with one declared parent (``kinhub.kinship.
    weight_check``): ``verdict`` consistent | contradicted | unverified, the rule's score
    and threshold, and the evidence (similarity, coefficient, base, revisions)."""

    __tablename__ = "weight_check"
    __table_args__ = (UniqueConstraint("child_id", "parent_id", name="uq_weight_check"),)

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="model.id", ondelete="CASCADE", index=True)
    parent_id: int = Field(foreign_key="model.id", ondelete="CASCADE")
    verdict: str = Field(max_length=20, index=True)
    rule: str = Field(max_length=20)
    score: float | None = None
    threshold: float | None = None
    base: str | None = Field(default=None, max_length=300)
    evidence: dict[str, Any] = _json(dict)
    checked_at: datetime = Field(default_factory=utcnow)


class SketchSummary(SQLModel, table=True):
    """A model's latest sketch projected to a few numbers (``kinhub.kinship.relatives``):
    a linear count-sketch of the plan-weighted values, float32 little-endian, so a
    difference of summaries is the summary of the difference.  One narrow row per model
    (not a column of ``model_sketch``, whose 256 KiB blob SQLite would walk past).
    ``packed``: the row is copied into its plan's ``sketch_summary_page`` rows."""

    __tablename__ = "sketch_summary"
    __table_args__ = (Index("ix_sketch_summary_plan", "plan_key", "packed"),)

    model_id: int = Field(
        sa_column=Column(Integer, ForeignKey("model.id", ondelete="CASCADE"), primary_key=True)
    )
    revision: str = Field(max_length=200)
    plan_key: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    packed: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class SketchSummaryPage(SQLModel, table=True):
    """Many summaries of one plan in one row (``model_ids``: int64 little-endian;
    ``data``: their summaries in the same order), so ``kinhub relatives`` reads a
    plan of 100,000 models as a few rows, not 100,000.  Rebuilt from
    ``sketch_summary`` (the truth) when enough of its rows are not packed yet."""

    __tablename__ = "sketch_summary_page"

    plan_key: str = Field(primary_key=True, max_length=64)
    page: int = Field(primary_key=True)
    model_ids: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
