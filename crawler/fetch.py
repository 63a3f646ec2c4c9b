"""Fetching one model at its sha: the files that add facts, and the record built
from them — the crawl's worker-thread side (the Hub client only, no database).

Only ``README.md`` and the first merge config the listing names (``CONFIG_NAMES``)
are read, at the listed sha; a file whose blob id the Hub names as unchanged is
taken from the texts stored for the previous sha.  A gated repo is not asked for
files when the crawl is anonymous (the answer would be 401): its listing facts and
Hub tags are kept as after a refused download.  A reference the Hub answers for
under another id (a renamed repo) comes back under the new id, the old one as its
``alias``.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, replace
from typing import Literal

from kinhub.crawler import version
from kinhub.crawler.clean import clean_name, one_line
from kinhub.crawler.hfconfig import architecture_facts
from kinhub.crawler.record import CONFIG_NAMES, build_record
from kinhub.db.ids import is_repo_id
from kinhub.db.records import ModelRecord, SourceTexts
from kinhub.db.stored_texts import StoredTexts
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.models import HubModel

logger = logging.getLogger(__name__)

CARD_NAME = "README.md"


@dataclass(frozen=True)
class Fetched:
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


def hub_record(
    model: HubModel,
    *,
    card: str | None,
    config: tuple[str, str] | None,
    status: Literal["ok", "gated"],
) -> ModelRecord:
    """The record of ``model``: the listing's facts, and what the parser reads in its
    card and ``(name, text)`` merge config (None: not read)."""
    config_name, config_text = config if config else (None, None)
    known = ModelRecord(
        repo_id=model.repo_id,
        sha=model.sha,
        status=status,
        last_error="gated: files not accessible" if status == "gated" else None,
        created_at=model.created_at,
        last_modified=model.last_modified,
        tags=list(model.tags),
        library_name=model.library_name,
        pipeline_tag=model.pipeline_tag,
        num_parameters=model.num_parameters,
        downloads=model.downloads,
        likes=model.likes,
        gated=model.gated,
        private=model.private,
    )
    texts = SourceTexts(
        card_text=card,
        config_name=config_name,
        config_text=config_text,
        # The listing's file names tell an adapter (adapter_config.json) from full weights.
        files=list(model.files) if model.files is not None else None,
    )
    return build_record(
        known=known,
        texts=texts,
        architecture=architecture_facts(model.config),
        parser_version=version.PARSER_VERSION,
    ).record


def _failed(repo_id: str, exc: Exception) -> Fetched:
    """The result of a model whose processing raised: recorded on it, never fatal."""
    logger.warning("%s: %s while reading it; recorded as an error", repo_id, type(exc).__name__)
    return Fetched(repo_id, status="error", error=one_line(f"{type(exc).__name__}: {exc}"))


class Fetcher:
    """Fetches models through ``hub`` for one crawl; called from worker threads.

    ``legacy_strategy``: ask for a gated repo's files even when anonymous, as kinhub
    did up to commit 2a055c4 (benchmarks compare that strategy with today's).
    """

    def __init__(self, hub: HubClient, *, legacy_strategy: bool = False) -> None:
        self.hub = hub
        self.legacy_strategy = legacy_strategy
        self._anonymous: bool | None = None

    def _is_anonymous(self) -> bool:
        if self._anonymous is None:
            self._anonymous = self.hub.anonymous
        return self._anonymous

    def fetch(self, model: HubModel, known: StoredTexts | None = None) -> Fetched:
        """Download the files of ``model`` at its sha and build its record.  ``known``:
        the texts stored from its previous sha; a file whose blob id the Hub names as
        unchanged is taken from there (one resolver request instead of two).

        Never raises: anything unexpected while reading this one model (a value the
        boundary refuses, a bug its content triggers) comes back as its ``error``
        status with a one-line reason, and the crawl goes on."""
        hub_id = clean_name(model.hub_id, 64) if model.hub_id is not None else None
        try:
            return replace(self._fetch_files(model, known), hub_id=hub_id)
        except Exception as exc:
            return _failed(model.repo_id, exc)

    def _fetch_files(self, model: HubModel, known: StoredTexts | None) -> Fetched:
        if model.gated and not self.legacy_strategy and self._is_anonymous():
            # Anonymous callers are never on a gated repo's list (401): keep the listing's
            # facts and Hub tags as after a refused download, without spending requests.
            record = hub_record(model, card=None, config=None, status="gated")
            return Fetched(model.repo_id, record=record)
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
                record = hub_record(model, card=None, config=None, status="gated")
                return Fetched(model.repo_id, record=record, files=downloaded)
            return Fetched(
                model.repo_id, status=exc.status, error=one_line(exc.reason), files=downloaded
            )
        except HubError as exc:
            return Fetched(model.repo_id, status="error", error=one_line(exc), files=downloaded)
        record = hub_record(model, card=card, config=config, status="ok")
        return Fetched(model.repo_id, record=record, files=downloaded)

    def fetch_reference(
        self, repo_id: str, stored_sha: str | None = None, *, seen: Container[str] = ()
    ) -> Fetched:
        """``model_info`` for a referenced parent (or an unreadable listing item), then
        its files unless its sha is ``stored_sha``.  A renamed repo (the Hub answered for
        another id) comes back under its new id, with ``alias`` set to ``repo_id``; when
        the new id is in ``seen`` (already stored by this crawl) only the alias is new."""
        try:
            model = self.hub.model_info(repo_id)
        except RepoUnavailableError as exc:
            return Fetched(repo_id, status=exc.status, error=one_line(exc.reason))
        except HubError as exc:
            return Fetched(repo_id, status="error", error=one_line(exc))
        except Exception as exc:
            return _failed(repo_id, exc)
        if model.repo_id != repo_id and is_repo_id(model.repo_id):
            logger.info("%s was renamed to %s", repo_id, model.repo_id)
            if model.repo_id in seen:
                return Fetched(model.repo_id, unchanged=True, alias=repo_id)
            return replace(self.fetch(model), alias=repo_id)
        if model.repo_id != repo_id:
            model = replace(model, repo_id=repo_id)  # an unusable id: keep the asked one
        if stored_sha is not None and model.sha == stored_sha:
            return Fetched(repo_id, unchanged=True)
        return self.fetch(model)


__all__ = ["CARD_NAME", "Fetched", "Fetcher", "hub_record"]
