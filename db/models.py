"""SQLModel tables: the nouns of DESIGN.md and the constraints that keep them clean.

Datetimes are timezone-aware UTC (SQLModel's UTCDateTime; SQLite stores them
without an offset and they come back as UTC).  JSON columns hold lists/dicts exactly as parsed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kinhub.db.timeutil import utcnow
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


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
    num_parameters: int | None = None
    downloads: int | None = None
    likes: int | None = None
    gated: str | None = Field(default=None, max_length=20)
    private: bool = False
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


class Kinship(SQLModel, table=True):
    """Metric values for a pair (A, B) against a base, as computed once."""

    __tablename__ = "kinship"
    __table_args__ = (
        UniqueConstraint("pair_key", name="uq_kinship_key"),
        Index("ix_kinship_pair", "model_a", "model_b"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Stable key over (a, b, base, revisions, mode, convention, sample fraction).
    pair_key: str = Field(max_length=64)
    model_a: str = Field(max_length=300)
    model_b: str = Field(max_length=300)
    base: str = Field(max_length=300)
    revision_a: str | None = Field(default=None, max_length=200)
    revision_b: str | None = Field(default=None, max_length=200)
    revision_base: str | None = Field(default=None, max_length=200)
    mode: str = Field(default="exact", max_length=20)
    convention: str = Field(default="native", max_length=20)
    sample_fraction: float | None = None
    metrics: dict[str, Any] = _json(dict)
    intervals: dict[str, Any] = _json(dict)
    params_compared: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    breakdown: dict[str, Any] = _json(dict)
    dropped: dict[str, Any] = _json(dict)
    computed_at: datetime = Field(default_factory=utcnow)


class KinshipJob(SQLModel, table=True):
    """One pair + base to compute; workers lease jobs until a deadline."""

    __tablename__ = "kinship_job"
    __table_args__ = (
        UniqueConstraint("model_a", "model_b", "base", name="uq_kinship_job"),
        Index("ix_kinship_job_status", "status", "lease_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    model_a: str = Field(max_length=300)
    model_b: str = Field(max_length=300)
    base: str = Field(max_length=300)
    child: str | None = Field(default=None, max_length=300)
    status: str = Field(default="pending", max_length=20)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
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
