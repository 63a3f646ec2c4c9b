"""Ingest-then-queue: record a local model folder (a mergekit output) with its edges
and queue the kinship jobs they call for, in one transaction.

The folder is read by :func:`kinhub.crawler.ingest.read_local_model` (the record
built as a crawled one is); the ``ingest`` command calls :func:`ingest_folder`.
Jobs of the model read its weights from the folder (the worker looks the folder up
by repo id), since the Hub does not have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinhub.crawler.ingest import read_local_model
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.settings import forget_local_folder, remember_local_folder
from kinhub.db.store import UpsertOutcome, upsert_model


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest_folder` stored; ``to_dict`` is the JSON summary."""

    repo_id: str
    sha: str | None
    outcome: str  # new | changed | unchanged
    edges: int
    parents: list[str]
    warnings: list[str]
    jobs_queued: int = 0
    jobs_note: str | None = None  # why no jobs were queued, when that is the case

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "sha": self.sha,
            "outcome": self.outcome,
            "edges": self.edges,
            "parents": self.parents,
            "warnings": self.warnings,
            "jobs_queued": self.jobs_queued,
            "jobs_note": self.jobs_note,
        }


def has_safetensors(folder: Path) -> bool:
    """Whether ``folder`` holds safetensors weights at its top level (as mergekit
    writes them)."""
    return any(p.is_file() for p in folder.glob("*.safetensors"))


def ingest_folder(database: Database, *, folder: Path, repo_id: str) -> IngestReport:
    """Record a local model folder (a mergekit output) as ``repo_id`` with its edges,
    and queue the kinship jobs a new or changed record calls for; idempotent.

    A folder with safetensors weights is remembered (``kinhub.db.settings``), and the
    worker reads ``repo_id``'s weights from it; without weights the jobs read
    ``repo_id`` from the Hub (a card downloaded from it), as the report's
    ``jobs_note`` says.

    Raises:
        LocalModelError: the folder cannot be read.
        InvalidRepoIdError: ``repo_id`` is not ``org/name``.
    """
    local = read_local_model(folder, repo_id=repo_id)
    record = local.record
    queued = 0
    weights = has_safetensors(folder)
    note: str | None = None
    with database.session() as session:
        outcome = upsert_model(session, record)
        if weights:
            # The worker reads this model's weights here (a path the user gave).
            remember_local_folder(session, repo_id=record.repo_id, folder=str(folder.resolve()))
        else:
            forget_local_folder(session, repo_id=record.repo_id)
        if record.edges and not weights:
            note = (
                f"{folder} holds no *.safetensors weights: kinship jobs naming "
                f"{record.repo_id} read it from the Hub (ingest the folder mergekit "
                "wrote, weights included, to measure it locally)"
            )
        if outcome is not UpsertOutcome.unchanged:
            # In the same transaction as the edges: a crash never leaves edges without jobs.
            queued = enqueue_for_models(session, [record.repo_id]).inserted
    return IngestReport(
        repo_id=record.repo_id,
        sha=record.sha,
        outcome=outcome.value,
        edges=len(record.edges),
        parents=sorted({e.parent for e in record.edges}),
        warnings=list(local.warnings),
        jobs_queued=queued,
        jobs_note=note,
    )


__all__ = ["IngestReport", "ingest_folder"]
