"""Hub byte ranges: index a repo's safetensors headers and read slices with HTTP Range
requests through huggingface_hub's own session, never downloading whole weight files."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from kinhub.db.ids import split_revision
from kinhub.kinship.errors import ModelSourceError, RemoteReadError, WeightsFormatError
from kinhub.kinship.weights import INDEX_NAME, SINGLE_NAME, ModelWeights, index_files, shard_files

logger = logging.getLogger(__name__)


class HubFiles:
    """Random access to the files of one Hub repo at a pinned commit."""

    def __init__(self, repo_id: str, revision: str, *, endpoint: str | None, token: Any = None):
        self.repo_id = repo_id
        self.revision = revision
        self.endpoint = endpoint
        self.token = token
        self.bytes_read = 0
        self.requests = 0
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def _url(self, file: str) -> str:
        from huggingface_hub import hf_hub_url

        return hf_hub_url(self.repo_id, file, revision=self.revision, endpoint=self.endpoint)

    def size(self, file: str) -> int:
        if file not in self._sizes:
            from huggingface_hub import get_hf_file_metadata

            try:
                meta = get_hf_file_metadata(
                    self._url(file), token=self.token, endpoint=self.endpoint
                )
            except Exception as exc:  # network/HTTP failures of any kind -> one typed error
                raise RemoteReadError(self.repo_id, file, f"cannot get file size: {exc}") from exc
            if meta.size is None:
                raise WeightsFormatError(file, "the Hub did not report a file size")
            self._sizes[file] = int(meta.size)
        return self._sizes[file]

    def read(self, file: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        from huggingface_hub.utils import build_hf_headers, get_session

        headers = build_hf_headers(token=self.token)
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        try:
            resp = get_session().get(self._url(file), headers=headers, follow_redirects=True)
        except Exception as exc:  # network failures of any kind -> one typed error
            raise RemoteReadError(self.repo_id, file, f"range request failed: {exc}") from exc
        if resp.status_code not in (200, 206):
            raise RemoteReadError(
                self.repo_id, file, f"range request failed: HTTP {resp.status_code}"
            )
        data = resp.content
        if resp.status_code == 200:  # server ignored Range: keep only the slice asked for
            logger.warning("%s: server ignored the Range header", file)
            data = data[offset : offset + length]
        with self._lock:
            self.bytes_read += len(data)
            self.requests += 1
        return bytes(data)

    def read_into(self, file: str, offset: int, buf: memoryview) -> int:
        data = self.read(file, offset, len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


def open_remote(ref: str, *, endpoint: str | None = None, token: Any = None) -> ModelWeights:
    """Index ``org/name[@rev]`` from its headers over HTTP (config and index JSON are fetched
    whole; they are small).

    Raises:
        InvalidRepoIdError, ModelSourceError, WeightsFormatError.
    """
    from huggingface_hub import HfApi

    repo_id, revision = split_revision(ref)
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(repo_id, revision=revision)
    except Exception as exc:  # not found, HTTP or network failure -> one typed error
        raise ModelSourceError(ref, f"cannot read repo info: {exc}") from exc
    sha = info.sha or revision or "main"
    names = {s.rfilename for s in (info.siblings or [])}
    src = HubFiles(repo_id, sha, endpoint=endpoint, token=token)

    def small_json(name: str) -> dict[str, Any]:
        raw = src.read(name, 0, src.size(name))
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise WeightsFormatError(name, f"unreadable JSON: {exc}") from exc
        return data if isinstance(data, dict) else {}

    config = small_json("config.json") if "config.json" in names else {}
    if INDEX_NAME in names:
        files = shard_files(small_json(INDEX_NAME), INDEX_NAME)
    elif SINGLE_NAME in names:
        files = [SINGLE_NAME]
    else:
        files = sorted(n for n in names if n.endswith(".safetensors") and "/" not in n)
    if not files:
        raise ModelSourceError(ref, "no safetensors files in the repo (sampling needs them)")
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
