"""Shared helpers of the crawl tests: snapshots of database tables, clients, ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kinhub.crawler.crawl import CrawlOptions, CrawlReport
from kinhub.crawler.ingest import read_local_model
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database
from kinhub.db.models import CrawlState, Edge, Evaluation, Model, Recipe
from kinhub.db.store import upsert_model
from kinhub.db.timeutil import to_utc
from kinhub.hub.client import HubClient
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy
from kinhub.pipeline.crawl import crawl_then_queue
from sqlmodel import select

# Columns that record *when* kinhub wrote a row, not what it learned.
_WRITE_TIMES = {"id", "first_seen", "updated_at"}


def hub_client(endpoint: str, cache: Path, **kwargs: Any) -> HubClient:
    """A client with fast retries and no client-side quota (unless given)."""
    kwargs.setdefault("retry", RetryPolicy(base_delay_s=0.01, max_delay_s=0.2))
    kwargs.setdefault("limits", RateLimits.unlimited())
    return HubClient(endpoint=endpoint, cache_dir=cache, **kwargs)


def run_crawl(
    database: Database, endpoint: str, cache: Path, *, scope: str = "full", **options: Any
) -> CrawlReport:
    kind, _, model = scope.partition(":")
    return crawl_then_queue(
        database,
        hub_client(endpoint, cache),
        CrawlOptions(scope=Scope.parse(kind, model or None), **options),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if hasattr(value, "tzinfo"):
        return to_utc(value).isoformat() if value is not None else None
    return value


def table_snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every crawled fact, ids replaced by repo ids, write times left out; sorted."""
    with database.session() as session:
        models = list(session.exec(select(Model)))
        name = {m.id: m.repo_id for m in models}
        columns = [c for c in Model.model_fields if c not in _WRITE_TIMES]
        snap: dict[str, list[tuple[Any, ...]]] = {
            "model": sorted(tuple(_plain(getattr(m, c)) for c in columns) for m in models),
            "edge": sorted(
                (
                    name[e.child_id],
                    name[e.parent_id],
                    e.relation,
                    e.role,
                    e.source,
                    _plain(e.parameters),
                    e.revision,
                    e.lora,
                    e.stage,
                )
                for e in session.exec(select(Edge))
            ),
            "recipe": sorted(
                (
                    name[r.model_id],
                    r.source,
                    r.merge_method,
                    r.base_model,
                    r.dtype,
                    r.tokenizer_source,
                    _plain(r.stages),
                    r.raw_text,
                    _plain(r.warnings),
                )
                for r in session.exec(select(Recipe))
            ),
            "evaluation": sorted(
                (name[v.model_id], v.task, v.dataset, v.metric, v.value, v.source_name)
                for v in session.exec(select(Evaluation))
            ),
            "crawl_state": sorted(
                (s.key, s.cursor, _plain(s.high_water), _plain(s.data))
                for s in session.exec(select(CrawlState))
            ),
        }
    return snap


def ingest_folders(database: Database, root: Path, repo_ids: list[str]) -> None:
    """The reference: read every repo folder directly and upsert it."""
    with database.session() as session:
        for repo_id in repo_ids:
            upsert_model(session, read_local_model(root / repo_id, repo_id=repo_id).record)
