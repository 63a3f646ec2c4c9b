"""Everything that talks to the Hub: the one module importing ``huggingface_hub``.

It owns the endpoint, the token (never read, printed or stored here: ``None``
lets the client find ``HF_TOKEN`` or the saved login), timeouts, retries with
backoff, client-side rate limiting per bucket, and the mapping of the client's
errors onto kinhub's (:class:`RepoUnavailableError` carries the status the
database records).

Listing pages are fetched with the client's own HTTP session, header builder,
error mapping and ``ModelInfo`` constructor rather than ``HfApi.list_models``:
that generator hides the next-page link, and the crawler must checkpoint it to
resume a listing after a crash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    DisabledRepoError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import (
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    parse_ratelimit_headers,
)
from huggingface_hub.utils._http import default_client_factory, set_client_factory
from kinhub.db.ids import validate_repo_id
from kinhub.db.timeutil import to_utc
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.ratelimit import API, RESOLVE, RateLimits

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
ENV_ENDPOINT = "HF_ENDPOINT"
# Everything the crawler stores, in one listing call (HUB_PROTOCOL.md lists the allowed values).
LISTING_EXPAND: tuple[str, ...] = (
    "cardData",
    "tags",
    "sha",
    "lastModified",
    "createdAt",
    "config",
    "siblings",
    "downloads",
    "likes",
    "gated",
    "private",
    "library_name",
    "pipeline_tag",
    "safetensors",
)
MAX_TEXT_BYTES = 8 * 1024 * 1024
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (httpx2.TransportError, LocalEntryNotFoundError, FileMetadataError, ValueError)

T = TypeVar("T")


# The HubClient whose call is running in this thread: the response hook reports to it.
_ACTIVE: ContextVar[HubClient | None] = ContextVar("kinhub_hub_client", default=None)
_HOOK_LOCK = threading.Lock()
_hook_installed = False


def _observe_response(response: httpx2.Response) -> None:
    client = _ACTIVE.get()
    if client is not None:
        client._observe(response)


def _client_with_observer() -> httpx2.Client:
    client = default_client_factory()
    client.event_hooks["response"] = [*client.event_hooks["response"], _observe_response]
    return client


def _install_response_hook() -> None:
    """Let every HTTP response of the client (downloads included) reach its HubClient.

    ``hf_hub_download`` retries 429s internally; without this hook the crawler
    would neither count them nor pause the bucket for the other threads.
    """
    global _hook_installed
    with _HOOK_LOCK:
        if not _hook_installed:
            set_client_factory(_client_with_observer)
            _hook_installed = True


def resolve_endpoint(endpoint: str | None = None) -> str:
    """``endpoint``, else ``$HF_ENDPOINT`` (read now, not at import), else the Hub."""
    chosen = endpoint or os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT
    return chosen.rstrip("/")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff from ``base_delay_s`` for 5xx and network
    errors (``max_attempts`` tries in all); server rate limits wait out the announced
    reset, at most ``max_rate_limit_waits`` times per call."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_rate_limit_waits: int = 30
    # Wait when a 429 carries no usable reset time.
    default_rate_limit_wait_s: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based), with ±25 % jitter."""
        delay = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return delay * random.uniform(0.75, 1.25)


@dataclass(frozen=True)
class HubModel:
    """One model as the Hub describes it (listing item or ``model_info``)."""

    repo_id: str
    sha: str | None
    created_at: datetime | None = None
    last_modified: datetime | None = None
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] | None = None  # None: the answer did not list files
    downloads: int | None = None
    likes: int | None = None
    gated: str | None = None  # "auto" / "manual"; None when not gated
    private: bool = False
    library_name: str | None = None
    pipeline_tag: str | None = None
    config: dict[str, Any] | None = None
    num_parameters: int | None = None
    card_data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_info(cls, info: ModelInfo) -> HubModel:
        """Map the client's ``ModelInfo`` (camelCase already converted) onto ours."""
        gated = info.gated if isinstance(info.gated, str) and info.gated else None
        total = info.safetensors.total if info.safetensors is not None else None
        card = info.card_data.to_dict() if info.card_data is not None else {}
        return cls(
            repo_id=info.id,
            sha=info.sha,
            created_at=to_utc(info.created_at),
            last_modified=to_utc(info.last_modified),
            tags=tuple(t for t in info.tags or () if isinstance(t, str)),
            files=tuple(s.rfilename for s in info.siblings) if info.siblings is not None else None,
            downloads=info.downloads,
            likes=info.likes,
            gated=gated,
            private=bool(info.private),
            library_name=info.library_name,
            pipeline_tag=info.pipeline_tag,
            config=info.config if isinstance(info.config, dict) else None,
            num_parameters=total if isinstance(total, int) else None,
            card_data=card if isinstance(card, dict) else {},
        )


@dataclass(frozen=True)
class ListingPage:
    """One page of ``/api/models``; ``next_url`` is the absolute link to the next one."""

    url: str
    models: list[HubModel]
    next_url: str | None


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


def _rate_limit_wait(exc: HfHubHTTPError, default: float) -> float:
    """Seconds the server asked us to wait (``RateLimit`` reset, else ``Retry-After``)."""
    headers = exc.response.headers if exc.response is not None else {}
    info = parse_ratelimit_headers(headers)
    if info is not None:
        return float(info.reset_in_seconds)
    retry_after = headers.get("Retry-After", "")
    return float(retry_after) if retry_after.strip().isdigit() else default


def _unavailable(repo_id: str, exc: HfHubHTTPError) -> RepoUnavailableError:
    """The database status for a final (non-retryable) error about ``repo_id``."""
    status = _status_of(exc)
    if isinstance(exc, GatedRepoError):
        return RepoUnavailableError(repo_id, "gated", "gated repo: access not granted")
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return RepoUnavailableError(repo_id, "not_found", "repository not found")
    if isinstance(exc, DisabledRepoError):
        return RepoUnavailableError(repo_id, "error", "repository disabled")
    if status in (401, 403):
        return RepoUnavailableError(repo_id, "private", f"HTTP {status}: not accessible")
    return RepoUnavailableError(repo_id, "error", f"HTTP {status}")


def _verify_blob(path: Path) -> bool:
    """Whether a cached file matches the blob id it is stored under.

    The client names cache blobs by ETag: the git blob sha1 for regular files, the
    sha256 for LFS files; a body cut short or corrupted in transit fails this.
    """
    blob = Path(os.path.realpath(path))
    name = blob.name
    data = blob.read_bytes()
    if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        digest = hashlib.sha1(f"blob {len(data)}\0".encode(), usedforsecurity=False)
        digest.update(data)
        return digest.hexdigest() == name
    if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
        return hashlib.sha256(data).hexdigest() == name
    return True  # not a content-addressed name: nothing to check against


class HubClient:
    """A rate-limited, retrying Hub client for the crawler; thread-safe.

    Counts per bucket: logical calls (``calls``: a listing page, a model_info,
    two per file download), HTTP responses actually received (``http``, the
    client's internal retries included), retries it made (``retries``) and 429
    answers (``rate_limited``).
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | bool | None = None,
        limits: RateLimits | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        cache_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        self._token = token
        self.limits = limits or RateLimits.for_plan()
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.cache_dir = cache_dir
        self._sleep = sleep
        self._api = HfApi(endpoint=self.endpoint, token=token, library_name="kinhub")
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.retries: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.rate_limited: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.http: Counter[str] = Counter({API: 0, RESOLVE: 0})
        _install_response_hook()

    def _observe(self, response: httpx2.Response) -> None:
        """Count one HTTP response; a 429 pauses its bucket until the announced reset."""
        url = response.request.url
        bucket = RESOLVE if "/resolve/" in url.path else API
        with self._lock:
            self.http[bucket] += 1
            if response.status_code == 429:
                self.rate_limited[bucket] += 1
        if response.status_code == 429:
            info = parse_ratelimit_headers(response.headers)
            if info is not None:
                self.limits.bucket(bucket).pause(float(info.reset_in_seconds))

    def _count(self, counter: Counter[str], bucket: str, n: int = 1) -> None:
        with self._lock:
            counter[bucket] += n

    def _call(
        self, bucket: str, what: str, fn: Callable[[], T], *, cost: int = 1, repo_id: str | None
    ) -> T:
        """Run ``fn`` under the bucket's limiter, retrying what is transient.

        Raises:
            RepoUnavailableError: a final answer about the repo (404, gated, 401/403).
            HubError: retries exhausted.
        """
        limiter = self.limits.bucket(bucket)
        attempt = 0
        waits = 0
        while True:
            for _ in range(cost):
                limiter.acquire()
            self._count(self.calls, bucket, cost)
            active = _ACTIVE.set(self)
            try:
                return fn()
            except HfHubHTTPError as exc:
                status = _status_of(exc)
                if status == 429:
                    waits += 1
                    if waits > self.retry.max_rate_limit_waits:
                        raise HubError(f"{what}: still rate limited", repo_id=repo_id) from exc
                    wait = _rate_limit_wait(exc, self.retry.default_rate_limit_wait_s)
                    # A reset of 0 s still means "this window is spent": back off a little.
                    limiter.pause(max(wait, self.retry.base_delay_s))
                    self._count(self.retries, bucket)
                    continue
                if status not in _RETRY_STATUSES:
                    if repo_id is None:
                        raise HubError(f"{what}: HTTP {status}") from exc
                    raise _unavailable(repo_id, exc) from exc
                error: BaseException = exc
            except _TRANSIENT as exc:
                error = exc
            finally:
                _ACTIVE.reset(active)
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise HubError(
                    f"{what}: gave up after {attempt} attempts ({type(error).__name__}: {error})",
                    repo_id=repo_id,
                ) from error
            delay = self.retry.backoff(attempt)
            logger.info(
                "%s failed (%s); retry %d in %.2fs", what, type(error).__name__, attempt, delay
            )
            self._count(self.retries, bucket)
            self._sleep(delay)

    # -- listing -------------------------------------------------------------------

    def listing_url(
        self,
        *,
        filters: Sequence[str] = (),
        sort: str = "lastModified",
        expand: Sequence[str] = LISTING_EXPAND,
        page_size: int = 1000,
    ) -> str:
        """The absolute URL of a listing's first page (what a cursor starts from)."""
        params: list[tuple[str, str]] = [("filter", f) for f in filters]
        params += [("sort", sort), ("limit", str(page_size))]
        params += [("expand", e) for e in expand]
        return str(httpx2.URL(f"{self.endpoint}/api/models", params=params))

    def owns(self, url: str) -> bool:
        """Whether ``url`` (e.g. a stored next-page link) points at this endpoint."""
        return url.startswith(self.endpoint + "/")

    def list_page(self, url: str) -> ListingPage:
        """Fetch one listing page (a first-page URL or a stored next-page link).

        Raises:
            HubError: the page could not be fetched after every retry, or the link
                does not belong to this endpoint.
        """
        if not self.owns(url):
            raise HubError(f"listing link {url!r} is not on endpoint {self.endpoint}")

        def fetch() -> ListingPage:
            response = get_session().get(
                url,
                headers=build_hf_headers(token=self._token, library_name="kinhub"),
                timeout=self.timeout_s,
            )
            hf_raise_for_status(response)
            items = response.json()
            if not isinstance(items, list):
                raise ValueError("listing answer is not a JSON array")
            models = [HubModel.from_info(ModelInfo(**item)) for item in items]
            next_url = response.links.get("next", {}).get("url")
            return ListingPage(url=url, models=models, next_url=next_url)

        return self._call(API, "list models", fetch, repo_id=None)

    # -- single repos ------------------------------------------------------------------

    def model_info(self, repo_id: str) -> HubModel:
        """One model's facts (one API call, plus retries).

        Raises:
            RepoUnavailableError: not found, gated, private or another final error.
            HubError: retries exhausted.
        """
        validate_repo_id(repo_id)

        def fetch() -> HubModel:
            expand: Any = list(LISTING_EXPAND)  # the client types these as Literals
            info = self._api.model_info(repo_id, expand=expand, timeout=self.timeout_s)
            return HubModel.from_info(info)

        return self._call(API, f"model_info {repo_id}", fetch, repo_id=repo_id)

    def read_text(self, repo_id: str, filename: str, *, revision: str | None) -> str | None:
        """A small file's text at ``revision`` (the commit sha), or None if absent.

        The download goes through ``hf_hub_download`` (a HEAD and a GET on the
        resolve bucket); a body that does not match its blob id is fetched again.

        Raises:
            RepoUnavailableError: the repo is gated, not found or not accessible.
            HubError: retries exhausted.
        """
        validate_repo_id(repo_id)
        state = {"force": False}

        def fetch() -> str | None:
            try:
                path = Path(
                    hf_hub_download(
                        repo_id,
                        filename,
                        revision=revision,
                        endpoint=self.endpoint,
                        token=self._token,
                        cache_dir=self.cache_dir,
                        etag_timeout=self.timeout_s,
                        force_download=state["force"],
                    )
                )
            except RemoteEntryNotFoundError:
                return None
            except RevisionNotFoundError as exc:
                raise RepoUnavailableError(
                    repo_id, "error", f"revision {revision} vanished (repo changed?)"
                ) from exc
            except (LocalEntryNotFoundError, ValueError) as exc:
                # The client wraps a failed HEAD; a final answer inside stays final.
                cause = exc.__cause__
                if isinstance(cause, HfHubHTTPError):
                    if _status_of(cause) not in _RETRY_STATUSES:
                        raise _unavailable(repo_id, cause) from exc
                    if _status_of(cause) == 429:
                        raise cause from exc  # waited out as a rate limit, not an attempt
                raise
            except OSError as exc:
                if isinstance(exc, HfHubHTTPError):
                    raise
                # The client's size check ("Consistency check failed"), or a cache problem.
                state["force"] = True
                raise ValueError(f"download of {filename} failed: {exc}") from exc
            if not _verify_blob(path):
                state["force"] = True
                raise ValueError(f"{filename}: downloaded bytes do not match the blob id")
            with path.open("rb") as handle:
                return handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")

        return self._call(RESOLVE, f"download {repo_id}/{filename}", fetch, cost=2, repo_id=repo_id)

    def stats(self) -> dict[str, Any]:
        """Calls, retries and server rate limits per bucket, and client-side waits."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "http": dict(self.http),
                "retries": dict(self.retries),
                "rate_limited": dict(self.rate_limited),
                "throttled_s": {
                    API: round(self.limits.api.waited_s, 3),
                    RESOLVE: round(self.limits.resolve.waited_s, 3),
                },
            }
