"""Hub byte ranges: index a repo's safetensors headers and read slices with HTTP Range
requests, never downloading whole weight files.

Every request goes through ``kinhub.hub`` (the one Hub client): the resolve bucket's
rate limiter, retries with backoff on 5xx and network errors, 429s waited out as the
rate-limit headers say.  Hub errors reach callers wrapped in kinship's own types, with
the hub error (``RepoUnavailableError.status`` says ``not_found``, ``gated``, …) as
``__cause__``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kinhub.db.ids import split_revision
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.shared import shared_client
from kinhub.kinship.errors import ModelSourceError, RemoteReadError, WeightsFormatError
from kinhub.kinship.header import MAX_JSON_FILE, loads_bounded
from kinhub.kinship.weights import INDEX_NAME, SINGLE_NAME, ModelWeights, index_files, shard_files

logger = logging.getLogger(__name__)


class HubFiles:
    """Random access to the files of one Hub repo at a pinned commit (a ``ByteSource``)."""

    def __init__(self, repo_id: str, revision: str, *, hub: HubClient) -> None:
        self.repo_id = repo_id
        self.revision = revision
        self.hub = hub
        self.bytes_read = 0
        self.requests = 0
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def size(self, file: str) -> int:
        """Raises: RemoteReadError (cause: the hub error)."""
        if file not in self._sizes:
            try:
                size = self.hub.file_size(self.repo_id, file, revision=self.revision)
            except HubError as exc:
                raise RemoteReadError(self.repo_id, file, _why(exc, "cannot get size")) from exc
            self._sizes[file] = size
        return self._sizes[file]

    def read(self, file: str, offset: int, length: int) -> bytes:
        """Raises: RemoteReadError (cause: the hub error)."""
        return self._read(file, offset, length, count=True)

    def read_meta(self, file: str) -> bytes:
        """A whole small metadata file (config, shard index): requested like any range, not
        counted in ``bytes_read``, which counts weights files only as exact mode does.

        Raises: RemoteReadError; WeightsFormatError when larger than ``MAX_JSON_FILE``."""
        size = self.size(file)
        if size > MAX_JSON_FILE:
            raise WeightsFormatError(file, f"JSON file larger than {MAX_JSON_FILE} bytes")
        return self._read(file, 0, size, count=False)

    def _read(self, file: str, offset: int, length: int, *, count: bool) -> bytes:
        if length <= 0:
            return b""
        try:
            data = self.hub.read_range(
                self.repo_id, file, revision=self.revision, offset=offset, length=length
            )
        except HubError as exc:
            raise RemoteReadError(self.repo_id, file, _why(exc, "range read failed")) from exc
        with self._lock:
            self.bytes_read += len(data) if count else 0
            self.requests += 1
        return data

    def read_into(self, file: str, offset: int, buf: memoryview) -> int:
        data = self.read(file, offset, len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def _why(exc: HubError, what: str) -> str:
    """One line: what failed and the hub's reason (without repeating the repo id)."""
    if isinstance(exc, RepoUnavailableError):
        return f"{what}: {exc.status} ({exc.reason})"
    text = str(exc)
    if exc.repo_id and text.startswith(f"{exc.repo_id}: "):
        text = text[len(exc.repo_id) + 2 :]
    return f"{what}: {text}"


def open_remote(
    ref: str, *, endpoint: str | None = None, hub: HubClient | None = None
) -> ModelWeights:
    """Index ``org/name[@rev]`` from its headers over HTTP (config and index JSON are fetched
    whole; they are small).  ``hub`` defaults to the process's shared client for
    ``endpoint`` (``HF_ENDPOINT`` if None).

    Raises:
        InvalidRepoIdError, ModelSourceError (repo or revision unreadable; cause: the hub
        error), RemoteReadError, WeightsFormatError.
    """
    repo_id, revision = split_revision(ref)
    client = hub or shared_client(endpoint)
    try:
        info = client.model_info(repo_id, revision=revision)
    except HubError as exc:
        raise ModelSourceError(ref, _why(exc, "cannot read repo info")) from exc
    sha = info.sha or revision or "main"
    names = set(info.files or ())
    src = HubFiles(repo_id, sha, hub=client)

    def small_json(name: str) -> dict[str, Any]:
        data = loads_bounded(src.read_meta(name), name)
        return data if isinstance(data, dict) else {}

    config = small_json("config.json") if "config.json" in names else {}
    if INDEX_NAME in names:
        files = shard_files(small_json(INDEX_NAME), INDEX_NAME)
    elif SINGLE_NAME in names:
        files = [SINGLE_NAME]
    else:
        files = sorted(n for n in names if n.endswith(".safetensors") and "/" not in n)
    if not files:
        raise ModelSourceError(
            ref, "no safetensors files in the repo (reading by range needs them)"
        )
    tensors = index_files(src, files)
    return ModelWeights(
        ref=ref,
        source=src,
        tensors=tensors,
        config=config,
        repo_id=repo_id,
        revision=sha,
        files=files,
    )
