"""Snapshots: a model's files at one commit in the Hugging Face cache.

One ``model_info`` pins the commit and lists the files; every file matching the
patterns is then one rate-limited, retried download into the cache, whose folder
``models--{org}--{name}/snapshots/{sha}`` is the snapshot.  When the Hub cannot be
reached at all, a complete snapshot already in the cache is used instead.  The
requests themselves are sent by ``hub.client``.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence
from pathlib import Path

from kinhub.hub import config
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.models import HubModel

logger = logging.getLogger(__name__)


class Snapshots:
    """:meth:`download_snapshot` for :class:`~kinhub.hub.client.HubClient`, which
    provides the model info, the file downloads and the look into the cache."""

    cache_dir: Path | None

    def model_info(self, repo_id: str, *, revision: str | None = None) -> HubModel:
        raise NotImplementedError

    def _download(
        self,
        repo_id: str,
        filename: str,
        *,
        revision: str | None,
        verify: bool,
        cache_dir: Path | None = None,
    ) -> Path | None:
        raise NotImplementedError

    def _cached_snapshot(
        self,
        repo_id: str,
        *,
        revision: str | None,
        patterns: Sequence[str],
        cache_dir: Path | None,
    ) -> Path | None:
        raise NotImplementedError

    def download_snapshot(
        self,
        repo_id: str,
        *,
        revision: str | None,
        patterns: Sequence[str],
        cache_dir: Path | None = None,
    ) -> Path:
        """Download the files matching ``patterns`` (fnmatch, e.g. ``*.safetensors``) at
        ``revision`` into the HF cache (``cache_dir``, else the client's, else
        ``HF_HUB_CACHE``/``HF_HOME``); returns the snapshot folder, named by the commit.

        One ``model_info`` pins the commit and lists the files, then every file is one
        rate-limited, retried download.  When the Hub cannot be reached at all, a
        complete snapshot already in the cache is used instead.

        Raises:
            RepoUnavailableError: repo, revision or a listed file not accessible.
            HubError: retries exhausted and nothing usable in the cache.
        """
        try:
            info = self.model_info(repo_id, revision=revision)
        except RepoUnavailableError:
            raise
        except HubError as exc:
            cached = self._cached_snapshot(
                repo_id, revision=revision, patterns=patterns, cache_dir=cache_dir
            )
            if cached is None:
                raise
            logger.warning("%s: Hub unreachable (%s); using the cached snapshot", repo_id, exc)
            return cached
        sha = info.sha or revision
        names = [f for f in info.files or () if any(fnmatch.fnmatch(f, p) for p in patterns)]
        root = config.cache_dir(cache_dir or self.cache_dir)
        folder = root / f"models--{repo_id.replace('/', '--')}" / "snapshots" / str(sha)
        for name in names:
            path = self._download(repo_id, name, revision=sha, verify=False, cache_dir=root)
            if path is None:
                raise RepoUnavailableError(repo_id, "not_found", f"file {name} not found")
            folder = Path(str(path)[: -len(name)])
        return folder
