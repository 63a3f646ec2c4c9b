"""The crawl strategy: spend the scarce API calls on listings, files only on change.

1. **List** candidates, newest ``lastModified`` first, with every fact we store in
   the listing call itself (``expand=``).  Scopes: ``merges`` (one listing per
   merge tag, deduplicated), ``children-of MODEL`` (``base_model:MODEL``) and
   ``full``.  A listing stops at the previous high-water mark of its key.
2. **Fetch files** (README.md and the first mergekit config present) only for
   models whose sha differs from the stored one, concurrently, at that sha.
3. **Commit** a page's models together with the page's cursor and the
   in-progress high-water candidate; the mark itself advances only when the
   listing reaches its end.  A crash resumes from the stored cursor.
4. **Follow references**: every parent an edge names that was never fetched
   (``pending``), and earlier failures (``error``), costs one ``model_info``
   plus its files; repeated until nothing is pending (bounded rounds).

Coping with the real Hub: a listing item the client cannot read is fetched by
``model_info`` instead (the page goes on); a reference the Hub redirects to another
id (a renamed repo) is stored once, under the new id, with the old id recorded as
an alias; a gated repo is not asked for files when the crawl is anonymous (the
answer would be 401) — its listing facts are kept as after a refused download.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from kinhub.crawler.errors import CrawlerError
from kinhub.crawler.facts import model_facts
from kinhub.crawler.hfconfig import architecture_facts
from kinhub.crawler.ingest import CONFIG_NAMES
from kinhub.crawler.version import PARSER_VERSION
from kinhub.db.aliases import note_hub_ids, record_alias
from kinhub.db.crawl_state import (
    edge_count,
    finish_run,
    load_checkpoint,
    models_with_status,
    save_checkpoint,
    start_run,
    stored_shas,
)
from kinhub.db.engine import Database
from kinhub.db.ids import is_repo_id
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.records import ModelRecord, SourceTexts
from kinhub.db.store import UpsertOutcome, pending_references, set_status, upsert_model
from kinhub.db.stored_texts import StoredTexts, stored_texts
from kinhub.db.timeutil import parse_hub_time
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.models import HubModel
from sqlmodel import Session

logger = logging.getLogger(__name__)

MERGE_TAGS: tuple[str, ...] = ("merge", "mergekit", "lazymergekit", "moe")
CARD_NAME = "README.md"
ScopeKind = Literal["merges", "children-of", "full"]


class ScopeError(CrawlerError):
    """A crawl scope that kinhub does not know, or one missing its model."""


@dataclass(frozen=True)
class Listing:
    """One listing query and the checkpoint key it is saved under."""

    key: str
    filters: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """What to crawl: ``merges``, ``children-of`` a model, or ``full``."""

    kind: ScopeKind = "merges"
    model: str | None = None

    @classmethod
    def parse(cls, kind: str, model: str | None = None) -> Scope:
        """Validate a scope given on the command line.

        Raises:
            ScopeError: unknown kind, or ``children-of`` without a valid model id.
        """
        if kind not in ("merges", "children-of", "full"):
            raise ScopeError(f"unknown scope {kind!r} (use merges, children-of or full)")
        if kind == "children-of":
            if not model or not is_repo_id(model):
                raise ScopeError("scope children-of needs a model id (org/name)")
            return cls(kind="children-of", model=model)
        if model:
            raise ScopeError(f"scope {kind} takes no model")
        return cls(kind=kind)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        return f"children-of:{self.model}" if self.kind == "children-of" else self.kind

    def listings(self) -> list[Listing]:
        if self.kind == "merges":
            return [Listing(key=f"models:filter={tag}", filters=(tag,)) for tag in MERGE_TAGS]
        if self.kind == "children-of":
            tag = f"base_model:{self.model}"
            return [Listing(key=f"models:filter={tag}", filters=(tag,))]
        return [Listing(key="models:all", filters=())]


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
class _Fetched:
    """One model's result: a record to upsert, a status to set, or nothing to do
    (``unchanged``: its sha is the stored one).  ``alias`` is the id it was asked for
    when the Hub answered for ``repo_id`` instead (a renamed repo)."""

    repo_id: str
    record: ModelRecord | None = None
    status: str | None = None
    error: str | None = None
    files: int = 0
    unchanged: bool = False
    alias: str | None = None
    hub_id: str | None = None  # the Hub's object id, which survives renames


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
    ) -> None:
        self.database = database
        self.hub = hub
        self.options = options or CrawlOptions()
        self.counts = CrawlCounts()
        self._progress = progress
        self._seen: set[str] = set()
        self._attempted: set[str] = set()
        self._anonymous: bool | None = None

    def _is_anonymous(self) -> bool:
        if self._anonymous is None:
            self._anonymous = self.hub.anonymous
        return self._anonymous

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

    def _record(
        self,
        model: HubModel,
        *,
        card: str | None,
        config: tuple[str, str] | None,
        status: Literal["ok", "gated"],
    ) -> ModelRecord:
        config_name, config_text = config if config else (CONFIG_NAMES[0], None)
        # The listing's file names tell an adapter (adapter_config.json) from full weights.
        files = list(model.files) if model.files is not None else None
        facts = model_facts(
            card_text=card,
            config_text=config_text,
            config_name=config_name,
            hub_tags=model.tags,
            files=files,
        )
        arch = architecture_facts(model.config)
        return ModelRecord(
            repo_id=model.repo_id,
            sha=model.sha,
            status=status,
            last_error="gated: files not accessible" if status == "gated" else None,
            created_at=model.created_at,
            last_modified=model.last_modified,
            tags=facts.tags,
            license=facts.license,
            library_name=facts.library_name or model.library_name,
            pipeline_tag=facts.pipeline_tag or model.pipeline_tag,
            architectures=arch.architectures,
            model_type=arch.model_type,
            hidden_size=arch.hidden_size,
            num_layers=arch.num_layers,
            vocab_size=arch.vocab_size,
            num_parameters=model.num_parameters,
            downloads=model.downloads,
            likes=model.likes,
            gated=model.gated,
            private=model.private,
            edges=facts.edges,
            recipes=facts.recipes,
            evaluations=facts.evaluations,
            texts=SourceTexts(
                card_text=card,
                config_name=config_name if config_text is not None else None,
                config_text=config_text,
                files=files,
            ),
            parser_version=PARSER_VERSION,
        )

    def _fetch(self, model: HubModel, known: StoredTexts | None = None) -> _Fetched:
        """Download the files of ``model`` at its sha and build its record.  ``known``:
        the texts stored from its previous sha; a file whose blob id the Hub names as
        unchanged is taken from there (one resolver request instead of two)."""
        return replace(self._fetch_files(model, known), hub_id=model.hub_id)

    def _fetch_files(self, model: HubModel, known: StoredTexts | None) -> _Fetched:
        if model.gated and not self.options.legacy_strategy and self._is_anonymous():
            # Anonymous callers are never on a gated repo's list (401): keep the listing's
            # facts and Hub tags as after a refused download, without spending requests.
            record = self._record(model, card=None, config=None, status="gated")
            return _Fetched(model.repo_id, record=record)
        files = model.files
        wanted_card = files is None or CARD_NAME in files
        config_name = next((n for n in CONFIG_NAMES if files is not None and n in files), None)
        downloaded = 0
        try:
            card = None
            if wanted_card:
                card = self.hub.read_text(
                    model.repo_id,
                    CARD_NAME,
                    revision=model.sha,
                    known=known.card_text if known else None,
                )
                downloaded += card is not None
            config = None
            if config_name is not None:
                same_file = known is not None and known.config_name == config_name
                text = self.hub.read_text(
                    model.repo_id,
                    config_name,
                    revision=model.sha,
                    known=known.config_text if same_file and known else None,
                )
                downloaded += text is not None
                config = (config_name, text) if text is not None else None
        except RepoUnavailableError as exc:
            if exc.status == "gated":
                # The listing's facts and Hub tags are still worth keeping.
                record = self._record(model, card=None, config=None, status="gated")
                return _Fetched(model.repo_id, record=record, files=downloaded)
            return _Fetched(model.repo_id, status=exc.status, error=exc.reason, files=downloaded)
        except HubError as exc:
            return _Fetched(model.repo_id, status="error", error=str(exc)[:500], files=downloaded)
        record = self._record(model, card=card, config=config, status="ok")
        return _Fetched(model.repo_id, record=record, files=downloaded)

    def _fetch_reference(self, repo_id: str, stored_sha: str | None = None) -> _Fetched:
        """``model_info`` for a referenced parent (or an unreadable listing item), then
        its files unless its sha is ``stored_sha``.  A renamed repo (the Hub answered for
        another id) comes back under its new id, with ``alias`` set to ``repo_id``."""
        try:
            model = self.hub.model_info(repo_id)
        except RepoUnavailableError as exc:
            return _Fetched(repo_id, status=exc.status, error=exc.reason)
        except HubError as exc:
            return _Fetched(repo_id, status="error", error=str(exc)[:500])
        if model.repo_id != repo_id and is_repo_id(model.repo_id):
            logger.info("%s was renamed to %s", repo_id, model.repo_id)
            if model.repo_id in self._seen:  # already stored by this crawl
                return _Fetched(model.repo_id, unchanged=True, alias=repo_id)
            return replace(self._fetch(model), alias=repo_id)
        if model.repo_id != repo_id:
            model = replace(model, repo_id=repo_id)  # an unusable id: keep the asked one
        if stored_sha is not None and model.sha == stored_sha:
            return _Fetched(repo_id, unchanged=True)
        return self._fetch(model)

    def _run_pool(
        self,
        jobs: list[Any],
        work: Callable[[Any], _Fetched],
        *,
        phase: Literal["listing", "references"] = "listing",
        key: str | None = None,
    ) -> list[_Fetched]:
        if not jobs:
            return []
        results: list[_Fetched] = []
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
        results: Iterable[_Fetched],
        *,
        hub_ids: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Store fetched models; ``hub_ids``: ``(object id, repo id)`` of every listed
        model, so a stored repo met under a new id is recorded as renamed."""
        written: list[str] = []  # models whose rows changed: their kinship jobs are re-planned
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
        # In the same transaction as the edges: a crash never leaves edges without jobs.
        self.counts.jobs_queued += enqueue_for_models(session, written).inserted

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
        todo = []
        for model in fresh:
            sha, status = stored.get(model.repo_id, (None, "pending"))
            if model.sha is not None and sha == model.sha and status != "error":
                self.counts.unchanged += 1
            else:
                todo.append(model)
        with self.database.session() as session:
            known = stored_texts(session, (m.repo_id for m in todo))
        results = self._run_pool(
            todo, lambda model: self._fetch(model, known.get(model.repo_id)), key=listing.key
        )
        if unread:

            def by_id(repo_id: str) -> _Fetched:
                sha, status = stored.get(repo_id, (None, "pending"))
                return self._fetch_reference(repo_id, sha if status != "error" else None)

            results += self._run_pool(unread, by_id, key=listing.key)
        with self.database.session() as session:
            pairs = [(m.hub_id, m.repo_id) for m in fresh if m.hub_id is not None]
            self._write(session, results, hub_ids=pairs)
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

    # -- references -------------------------------------------------------------------

    def _retry_failed(self) -> None:
        """Models whose last fetch failed get one more try, as references do."""
        with self.database.session() as session:
            failed = models_with_status(session, "error")
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
        with self.database.session() as session:
            self._write(session, results)
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
) -> CrawlReport:
    """Run one crawl (see :class:`Crawler`)."""
    return Crawler(database, hub, options, progress=progress).run()


__all__ = [
    "MERGE_TAGS",
    "CrawlCounts",
    "CrawlOptions",
    "CrawlProgress",
    "CrawlReport",
    "Crawler",
    "Listing",
    "Scope",
    "ScopeError",
    "crawl",
]
