"""Re-parse stored models with the current parser, without the Hub.

A crawl skips a model whose sha did not change, so parser improvements would
never reach it.  The texts the parser read (card, mergekit config) are stored
with the parser version that read them; :func:`reparse` feeds them to the
current parser (through :func:`kinhub.crawler.record.build_record`, as the crawl
and ingest do) and writes the result through the same
:func:`kinhub.db.store.upsert_model` — idempotent: a model whose facts come out
the same is left as it was (only its version stamp moves), and a second run
finds nothing to do.  What follows the rewritten rows (the kinship jobs) is the
caller's ``on_written`` hook: ``kinhub.pipeline.reparse`` wires it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kinhub.crawler import version
from kinhub.crawler.clean import HostileInputError
from kinhub.crawler.record import build_record
from kinhub.crawler.written import OnWritten
from kinhub.db.engine import Database
from kinhub.db.reparse_queries import (
    count_to_reparse,
    count_without_texts,
    current_sha,
    sources_to_reparse,
)
from kinhub.db.store import UpsertOutcome, upsert_model

logger = logging.getLogger(__name__)

# Changed model ids listed in the report (the counts are always complete).
MAX_LISTED = 100


@dataclass(frozen=True)
class ReparseProgress:
    """Handed to the caller's callback after each committed batch."""

    done: int
    total: int


@dataclass
class ReparseReport:
    """What :func:`reparse` did; ``to_dict`` is the JSON summary."""

    parser_version: int
    all_models: bool
    examined: int = 0
    changed: int = 0
    unchanged: int = 0
    # The model got a new sha while being re-parsed (a crawl wrote it): left alone.
    skipped: int = 0
    # Parsed models stored without their texts: only a re-crawl can re-parse them.
    without_texts: int = 0
    changed_models: list[str] = field(default_factory=list)
    jobs_queued: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "parser_version": self.parser_version,
            "all": self.all_models,
            "examined": self.examined,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "without_texts": self.without_texts,
            "changed_models": self.changed_models,
            "jobs_queued": self.jobs_queued,
            "seconds": round(self.seconds, 3),
        }


def reparse(
    database: Database,
    *,
    all_models: bool = False,
    batch_size: int = 200,
    progress: Callable[[ReparseProgress], None] | None = None,
    on_written: OnWritten | None = None,
) -> ReparseReport:
    """Re-parse every model whose texts were read by an older parser (every model
    with stored texts when ``all_models``) and rewrite its edges, recipes and
    evaluations where they differ.  Each batch commits in one write transaction,
    with ``on_written`` called in it on the models rewritten (its count is the
    report's ``jobs_queued``).

    Raises:
        DatabaseError: the database cannot be reached.
    """
    started = time.monotonic()
    current = version.PARSER_VERSION
    older_than = None if all_models else current
    report = ReparseReport(parser_version=current, all_models=all_models)
    with database.session() as session:
        total = count_to_reparse(session, older_than=older_than)
        report.without_texts = count_without_texts(session)
    after = 0
    while True:
        with database.session() as session:
            batch = sources_to_reparse(
                session, older_than=older_than, after_id=after, limit=batch_size
            )
        if not batch:
            break
        after = batch[-1].model_id
        # Parse outside the transaction: the write lock is held only for writing.  The
        # stored facts from the Hub (dates, counts, architecture) are kept; the stored
        # tag list stands in for the Hub's tags (it includes them); the stored file
        # names are the ones the crawl or ingest gave the parser.
        records = []
        for source in batch:
            try:
                built = build_record(
                    known=source.record, texts=source.texts, parser_version=current
                )
            except HostileInputError as exc:  # one model's texts never stop the re-parse
                logger.warning("%s: not re-parsed: %s", source.record.repo_id, exc)
                report.skipped += 1
                continue
            records.append((source, built))
        with database.write_transaction() as session:
            rewritten: list[str] = []
            for source, built in records:
                record = built.record
                report.examined += 1
                if current_sha(session, source.model_id) != source.record.sha:
                    report.skipped += 1
                    continue
                outcome = upsert_model(session, record)
                if outcome is UpsertOutcome.unchanged:
                    report.unchanged += 1
                else:
                    report.changed += 1
                    rewritten.append(record.repo_id)
                    if len(report.changed_models) < MAX_LISTED:
                        report.changed_models.append(record.repo_id)
            # New roles mean new jobs: queued with the edges they follow from.
            if on_written is not None:
                report.jobs_queued += on_written(session, rewritten)
        logger.info("re-parsed %d of %d models", report.examined, total)
        if progress is not None:
            progress(ReparseProgress(done=report.examined, total=total))
    report.seconds = time.monotonic() - started
    return report


__all__ = ["ReparseProgress", "ReparseReport", "reparse"]
