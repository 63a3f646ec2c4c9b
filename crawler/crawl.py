"""The crawl: spend the scarce API calls on listings, files only on change.

1. **List** candidates, newest ``lastModified`` first, with every fact we store in
   the listing call itself (``expand=``), through the listings of the scope
   (:mod:`kinhub.crawler.scope`).  A listing stops at the previous high-water mark
   of its key.
2. **Fetch files** (README.md and the first mergekit config present) only for
   models whose sha differs from the stored one, concurrently, at that sha
   (:mod:`kinhub.crawler.fetch`).
3. **Commit** a page's models together with the page's cursor and the
   in-progress high-water candidate; the mark itself advances only when the
   listing reaches its end.  A crash resumes from the stored cursor.  The
   ``on_written`` hook (:mod:`kinhub.crawler.written`) runs in each write
   transaction on the models whose rows changed; ``kinhub.pipeline.crawl`` queues
   their kinship jobs there.
4. **Follow references**: every parent an edge names that was never fetched
   (``pending``), and earlier failures (``error``), costs one ``model_info``
   plus its files; repeated until nothing is pending (bounded rounds).

Coping with the real Hub: a listing item the client cannot read is fetched by
``model_info`` instead (the page goes on); a reference the Hub redirects to another
id (a renamed repo) is stored once, under the new id, with the old id recorded as
an alias.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from kinhub.crawler.clean import one_line
from kinhub.crawler.fetch import Fetched, Fetcher
from kinhub.crawler.scope import Listing, Scope
from kinhub.crawler.written import OnWritten
from kinhub.db.aliases import note_hub_ids, record_alias
from kinhub.db.crawl_state import (
    backing_off,
    edge_count,
    errors_due,
    finish_run,
    load_checkpoint,
    save_checkpoint,
    start_run,
    stored_shas,
)
from kinhub.db.engine import Database
from kinhub.db.ids import is_repo_id
from kinhub.db.store import UpsertOutcome, pending_references, set_status, upsert_model
from kinhub.db.stored_texts import stored_texts
from kinhub.db.timeutil import parse_hub_time
from kinhub.hub.client import HubClient
from kinhub.hub.models import HubModel
from sqlmodel import Session

logger = logging.getLogger(__name__)


@dataclass
class CrawlOptions:
    """Knobs of one crawl.  ``limit`` bounds the listed models processed this run
    (the listing resumes where it stopped next time); ``since`` replaces the
    high-water mark as the point where listings stop."""

    scope: Scope = field(default_factory=Scope)
    limit: int | None = None
    since: datetime | None = None
    concurrency: int = 8
    page_size: int = 1000
    follow_references: bool = True
    max_reference_rounds: int = 50
    reference_batch: int = 200
    # Ask for a gated repo's files even when anonymous, as kinhub did up to commit
    # 2a055c4 (benchmarks compare that strategy with today's).
    legacy_strategy: bool = False


@dataclass
class CrawlCounts:
    """What a crawl did; ``to_dict`` is the JSON summary."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    references: int = 0
    files: int = 0
    pages: int = 0
    edges_added: int = 0
    jobs_queued: int = 0
    malformed: int = 0
    renamed: int = 0
    backing_off: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "models_seen": self.seen,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "references_followed": self.references,
            "files_downloaded": self.files,
            "listing_pages": self.pages,
            "edges_added": self.edges_added,
            "jobs_queued": self.jobs_queued,
            "listing_items_malformed": self.malformed,
            "renamed": self.renamed,
            "errors": dict(sorted(self.errors.items())),
            # Models this run recorded in error (each on its row: status, last_error).
            "models_in_error": self.errors.get("error", 0),
            "models_backing_off": self.backing_off,
        }


@dataclass(frozen=True)
class CrawlProgress:
    """A progress report handed to the caller's callback (from the calling thread)."""

    phase: Literal["listing", "references", "done"]
    listing: str | None
    counts: dict[str, Any]
    # Downloads of the current page (or reference batch): finished / total.
    batch_done: int = 0
    batch_total: int = 0


@dataclass(frozen=True)
class CrawlReport:
    """The outcome of :meth:`Crawler.run`."""

    run_id: int
    scope: str
    status: str
    counts: dict[str, Any]
    requests: dict[str, Any]
    seconds: float
    complete: bool  # every listing reached its end (not stopped by --limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scope": self.scope,
            "status": self.status,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
            **self.counts,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class _Marks:
    """A listing's dates: the stored high-water mark, the newest change seen by
    this (possibly resumed) listing, and where it stops."""

    old: datetime | None
    candidate: datetime | None
    stop_at: datetime | None


ProgressCallback = Callable[[CrawlProgress], None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Crawler:
    """One crawl of ``options.scope`` into ``database`` through ``hub``."""

    def __init__(
        self,
        database: Database,
        hub: HubClient,
        options: CrawlOptions | None = None,
        *,
        progress: ProgressCallback | None = None,
        on_written: OnWritten | None = None,
    ) -> None:
        self.database = database
        self.hub = hub
        self.options = options or CrawlOptions()
        self.counts = CrawlCounts()
        self._progress = progress
        self._on_written = on_written
        self._fetcher = Fetcher(hub, legacy_strategy=self.options.legacy_strategy)
        self._seen: set[str] = set()
        self._attempted: set[str] = set()

    # -- reporting ----------------------------------------------------------------------

    def _report(
        self,
        phase: Literal["listing", "references", "done"],
        key: str | None,
        *,
        batch: tuple[int, int] = (0, 0),
    ) -> None:
        if self._progress is not None:
            self._progress(
                CrawlProgress(
                    phase=phase,
                    listing=key,
                    counts=self.counts.to_dict(),
                    batch_done=batch[0],
                    batch_total=batch[1],
                )
            )

    def _remaining(self) -> int | None:
        if self.options.limit is None:
            return None
        return max(0, self.options.limit - self.counts.seen)

    # -- fetching (worker threads: Hub only, no database) ------------------------------------

    def _fetch_reference(self, repo_id: str, stored_sha: str | None = None) -> Fetched:
        return self._fetcher.fetch_reference(repo_id, stored_sha, seen=self._seen)

    def _run_pool(
        self,
        jobs: list[Any],
        work: Callable[[Any], Fetched],
        *,
        phase: Literal["listing", "references"] = "listing",
        key: str | None = None,
    ) -> list[Fetched]:
        if not jobs:
            return []
        results: list[Fetched] = []
        workers = max(1, min(self.options.concurrency, len(jobs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kinhub-fetch") as pool:
            futures = [pool.submit(work, job) for job in jobs]
            for future in as_completed(futures):
                results.append(future.result())
                self._report(phase, key, batch=(len(results), len(jobs)))
        # Deterministic write order, whatever order the downloads finished in.
        order = {getattr(job, "repo_id", job): i for i, job in enumerate(jobs)}
        results.sort(key=lambda r: order.get(r.alias or r.repo_id, 0))
        return results

    # -- writing (calling thread) ----------------------------------------------------------

    def _write(
        self,
        session: Session,
        results: Iterable[Fetched],
        *,
        hub_ids: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Store fetched models; ``hub_ids``: ``(object id, repo id)`` of every listed
        model, so a stored repo met under a new id is recorded as renamed.  Then the
        ``on_written`` hook, in this transaction, on the models whose rows changed."""
        written: list[str] = []  # models whose rows changed: handed to on_written
        pairs = list(hub_ids)
        for result in results:
            self.counts.files += result.files
            if result.alias is not None:
                self._seen.add(result.repo_id)
            if result.unchanged:
                self.counts.unchanged += 1
            elif result.record is not None:
                outcome = upsert_model(session, result.record)
                if outcome is not UpsertOutcome.unchanged:
                    written.append(result.repo_id)
                if outcome is UpsertOutcome.new:
                    self.counts.new += 1
                elif outcome is UpsertOutcome.changed:
                    self.counts.changed += 1
                else:
                    self.counts.unchanged += 1
                if result.record.status != "ok":
                    self.counts.errors[result.record.status] += 1
            else:
                assert result.status is not None
                set_status(session, result.repo_id, result.status, result.error)
                self.counts.errors[result.status] += 1
                written.append(result.repo_id)
            if result.alias is not None:
                # After the new id's row exists: one model, the old id an alias of it.
                record_alias(session, alias=result.alias, repo_id=result.repo_id)
                self.counts.renamed += 1
                written.append(result.alias)  # edges naming the old id now mean the new one
            if result.hub_id is not None and result.record is not None:
                pairs.append((result.hub_id, result.repo_id))
        for old, new in note_hub_ids(session, pairs):
            logger.info("%s was renamed to %s (the same Hub object)", old, new)
            self.counts.renamed += 1
            written.append(old)
        if self._on_written is not None:
            self.counts.jobs_queued += self._on_written(session, written)

    def _write_isolated(
        self,
        results: list[Fetched],
        *,
        hub_ids: Sequence[tuple[str, str]] = (),
        then: Callable[[Session], None] | None = None,
    ) -> None:
        """:meth:`_write` ``results`` and run ``then`` (the page's checkpoint) in one
        transaction.  When that raises, each model is written again in its own
        transaction: if some model is stored, the failure is the others' own — each
        is recorded as an ``error`` on itself (with backoff) and ``then`` runs last,
        so the crawl goes on.  If every model of a page of several fails, the fault is
        not one model's (a broken hook, a database that refuses everything): the
        first error is raised, nothing of the page committed.  Rows are idempotent by
        (repo id, sha): a crash in between redoes the page and changes nothing.

        Raises:
            Exception: the page's error, when no model of a page of several could be
                stored.
        """
        before = deepcopy(self.counts)
        try:
            with self.database.session() as session:
                self._write(session, results, hub_ids=hub_ids)
                if then is not None:
                    then(session)
            return
        except Exception as exc:
            logger.warning("a page's write failed (%s); writing its models one by one", exc)
            self.counts = before
            page_error = exc
        stored = 0
        failed: list[tuple[str, str]] = []
        for result in results:
            writes = result.record is not None or result.status is not None
            try:
                with self.database.session() as session:
                    self._write(session, [result])
                stored += writes
            except Exception as exc:
                failed.append((result.repo_id, one_line(f"{type(exc).__name__}: {exc}")))
        if failed and not stored and len(failed) > 1:
            self.counts = before
            raise page_error
        for repo_id, error in failed:
            logger.warning("%s: could not be stored (%s); recorded as an error", repo_id, error)
            with self.database.session() as session:
                set_status(session, repo_id, "error", error)
            self.counts.errors["error"] += 1
        with self.database.session() as session:
            for old, new in note_hub_ids(session, list(hub_ids)):
                logger.info("%s was renamed to %s (the same Hub object)", old, new)
            if then is not None:
                then(session)

    # -- listings --------------------------------------------------------------------

    def _crawl_listing(self, listing: Listing) -> bool:
        """Walk one listing from its checkpoint; True when it reached its end."""
        with self.database.session() as session:
            checkpoint = load_checkpoint(session, listing.key)
        data = checkpoint.data or {}
        if checkpoint.cursor and not self.hub.owns(checkpoint.cursor):
            # Saved against another endpoint: its link cannot be followed here.
            logger.warning("%s: stored cursor is for another endpoint; restarting", listing.key)
            checkpoint = replace(checkpoint, cursor=None)
        if checkpoint.cursor:
            url: str | None = checkpoint.cursor
            stop_at = parse_hub_time(data.get("stop_at"))
            candidate = parse_hub_time(data.get("candidate"))
            logger.info("%s: resuming from the stored cursor", listing.key)
        else:
            url = self.hub.listing_url(filters=listing.filters, page_size=self.options.page_size)
            stop_at = self.options.since or checkpoint.high_water
            candidate = None
        while url is not None:
            remaining = self._remaining()
            if remaining == 0:
                return False
            page = self.hub.list_page(url)
            self.counts.pages += 1
            done = page.next_url is None
            fallback = [m.repo_id for m in page.malformed if m.repo_id and is_repo_id(m.repo_id)]
            self.counts.malformed += len(page.malformed)
            for item in page.malformed:
                if item.repo_id not in fallback:
                    logger.warning("listing item without a usable id skipped: %s", item.error)
            batch: list[HubModel] = []
            for model in page.models:
                stamp = model.last_modified
                if stop_at is not None and stamp is not None and stamp < stop_at:
                    done = True
                    break
                if not is_repo_id(model.repo_id):
                    logger.warning("listing returned an invalid id %r; skipped", model.repo_id)
                    continue
                batch.append(model)
            stamps = [m.last_modified for m in page.models if m.last_modified is not None]
            if stamps and (candidate is None or max(stamps) > candidate):
                candidate = max(stamps)
            partial = remaining is not None and len(batch) > remaining
            if partial:
                batch = batch[:remaining]
            if partial:
                # Stopped inside this page (--limit): fetch it again next time; the
                # models already done are skipped by their sha.
                cursor: str | None = page.url
            else:
                cursor = None if done else page.next_url
            marks = _Marks(old=checkpoint.high_water, candidate=candidate, stop_at=stop_at)
            self._process_page(listing, batch, cursor, marks, fallback=fallback)
            self._report("listing", listing.key)
            if partial:
                return False
            url = None if done else page.next_url
        return True

    def _process_page(
        self,
        listing: Listing,
        batch: list[HubModel],
        cursor: str | None,
        marks: _Marks,
        *,
        fallback: Sequence[str] = (),
    ) -> None:
        """Fetch what changed on one page, then commit its rows with the listing's
        checkpoint: ``cursor`` None means the listing is finished.  ``fallback``: ids
        of items the client could not read, asked for by ``model_info`` instead."""
        fresh = [m for m in batch if m.repo_id not in self._seen]
        self._seen.update(m.repo_id for m in fresh)
        unread = [r for r in dict.fromkeys(fallback) if r not in self._seen]
        self._seen.update(unread)
        self.counts.seen += len(fresh) + len(unread)
        with self.database.session() as session:
            stored = stored_shas(session, [*(m.repo_id for m in fresh), *unread])
            waiting = backing_off(session, [*(m.repo_id for m in fresh), *unread])
        self.counts.backing_off += len(waiting)
        unread = [r for r in unread if r not in waiting]
        todo = []
        for model in fresh:
            sha, status = stored.get(model.repo_id, (None, "pending"))
            if model.repo_id in waiting:
                continue  # failed before: tried again once its backoff is over
            if model.sha is not None and sha == model.sha and status != "error":
                self.counts.unchanged += 1
            else:
                todo.append(model)
        with self.database.session() as session:
            known = stored_texts(session, (m.repo_id for m in todo))
        results = self._run_pool(
            todo,
            lambda model: self._fetcher.fetch(model, known.get(model.repo_id)),
            key=listing.key,
        )
        if unread:

            def by_id(repo_id: str) -> Fetched:
                sha, status = stored.get(repo_id, (None, "pending"))
                return self._fetch_reference(repo_id, sha if status != "error" else None)

            results += self._run_pool(unread, by_id, key=listing.key)
        pairs = [(m.hub_id, m.repo_id) for m in fresh if m.hub_id is not None]

        def checkpoint(session: Session) -> None:
            if cursor is None:
                high_water = max(
                    (t for t in (marks.old, marks.candidate) if t is not None), default=None
                )
                save_checkpoint(session, listing.key, cursor=None, high_water=high_water)
            else:
                save_checkpoint(
                    session,
                    listing.key,
                    cursor=cursor,
                    high_water=marks.old,
                    data={"candidate": _iso(marks.candidate), "stop_at": _iso(marks.stop_at)},
                )

        self._write_isolated(results, hub_ids=pairs, then=checkpoint)

    # -- references -------------------------------------------------------------------

    def _retry_failed(self) -> None:
        """Models whose last fetch failed get one more try, as references do, once their
        backoff is over (``kinhub.db.store.retry_delay``)."""
        with self.database.session() as session:
            failed = errors_due(session)
        if failed:
            self.follow(failed)

    def follow(self, repo_ids: list[str]) -> None:
        """Fetch and store these models the way references are: one ``model_info``
        each, then their files (skips ids already attempted by this crawler)."""
        todo = [r for r in repo_ids if r not in self._attempted and is_repo_id(r)]
        self._attempted.update(todo)
        if not todo:
            return
        self.counts.references += len(todo)
        results = self._run_pool(todo, self._fetch_reference, phase="references")
        self._write_isolated(results)
        self._report("references", None)

    def _follow_references(self) -> None:
        for _ in range(self.options.max_reference_rounds):
            with self.database.session() as session:
                pending = pending_references(session, limit=self.options.reference_batch * 4)
            todo = [r for r in pending if r not in self._attempted][: self.options.reference_batch]
            if not todo:
                return
            self.follow(todo)
        logger.warning(
            "stopped following references after %d rounds", self.options.max_reference_rounds
        )

    # -- the run -----------------------------------------------------------------------

    def _edge_count(self) -> int:
        with self.database.session() as session:
            return edge_count(session)

    def run(self) -> CrawlReport:
        """Crawl, record the run (CrawlRun) and return its report.

        Raises:
            HubError: a listing page could not be fetched after every retry (the
                pages before it are committed; the next run resumes there).
        """
        started = time.monotonic()
        scope = self.options.scope
        with self.database.session() as session:
            run_id = start_run(session, kind="crawl", scope=scope.label)
        edges_before = self._edge_count()
        complete = True
        status, error = "ok", None
        try:
            if self.options.follow_references:
                self._retry_failed()
            for listing in scope.listings():
                complete = self._crawl_listing(listing) and complete
                if self._remaining() == 0:
                    complete = False
                    break
            if self.options.follow_references:
                self._follow_references()
        except BaseException as exc:
            status, error = (
                ("interrupted", "interrupted")
                if isinstance(exc, KeyboardInterrupt)
                else ("failed", str(exc)[:1000])
            )
            raise
        finally:
            self.counts.edges_added = self._edge_count() - edges_before
            counts = self.counts.to_dict()
            requests = self.hub.stats()
            with self.database.session() as session:
                finish_run(
                    session,
                    run_id,
                    status=status,
                    counts={**counts, "requests": requests, "complete": complete},
                    error=error,
                )
            self._report("done", None)
        return CrawlReport(
            run_id=run_id,
            scope=scope.label,
            status=status,
            counts=counts,
            requests=requests,
            seconds=time.monotonic() - started,
            complete=complete,
        )


def crawl(
    database: Database,
    hub: HubClient,
    options: CrawlOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    on_written: OnWritten | None = None,
) -> CrawlReport:
    """Run one crawl (see :class:`Crawler`)."""
    return Crawler(database, hub, options, progress=progress, on_written=on_written).run()


__all__ = [
    "CrawlCounts",
    "CrawlOptions",
    "CrawlProgress",
    "CrawlReport",
    "Crawler",
    "crawl",
]
