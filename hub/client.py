"""Everything that talks to the Hub: the one module importing ``huggingface_hub``.

The crawler (listings, model info, small files) and the kinship engine (weight
snapshots, file sizes, HTTP Range reads of safetensors) both go through
:class:`HubClient`.  It owns the endpoint (``hub.config``, read at call time), the
token (never read, printed or stored here: ``None`` lets the client find
``HF_TOKEN`` or the saved login), timeouts, one retry policy (backoff on 5xx and
network errors, 429s waited out as the rate-limit headers say), client-side rate
limiting per bucket (``api``; ``resolve`` — the Hub's *resolvers* policy — for every
file, HEAD and Range read, including the ``/api/resolve-cache/`` hop small files
are redirected to), and the mapping of the client's errors onto kinhub's
(:class:`RepoUnavailableError` carries the status the database records;
:class:`HubError` means retries ran out).

How the real Hub answers, and how this client copes (HUB_PROTOCOL.md):

* A small file is ``/resolve/`` → 307 → ``/api/resolve-cache/…``.  ``hf_hub_download``
  spends three resolver requests on it (HEAD, HEAD, GET); :meth:`HubClient.read_text`
  spends two (one GET that follows the redirect) and checks the bytes against the
  ETag.  ``files="hf_hub_download"`` restores the old way (benchmarks compare both).
* ``RateLimit`` headers come on every answer.  A bucket pauses only when they say its
  window is spent (``r=0``), for the ``t`` they announce; a 429 with ``r>0`` is
  retried after a short backoff (or its ``Retry-After``), never after ``t`` — the
  same rule ``huggingface_hub`` follows.
* A listing page that times out (504, or no answer in time) is fetched again at half
  the size, and later first pages start at the size that worked.  An item the client
  cannot read is returned as a :class:`MalformedItem` instead of failing the page.

Listing pages are fetched with the client's own HTTP session, header builder,
error mapping and ``ModelInfo`` constructor rather than ``HfApi.list_models``:
that generator hides the next-page link, and the crawler must checkpoint it to
resume a listing after a crash.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx2
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    get_session,
    hf_hub_download,
    hf_hub_url,
    scan_cache_dir,
    snapshot_download,
)
from huggingface_hub.errors import (
    CacheNotFound,
    DisabledRepoError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, parse_ratelimit_headers
from kinhub.db.ids import validate_repo_id
from kinhub.hub import config
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.models import HubModel, ListingPage, MalformedItem
from kinhub.hub.ratelimit import API, POLICY_BUCKETS, RESOLVE, RateLimits, bucket_of
from kinhub.hub.retry import RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = config.DEFAULT_ENDPOINT
ENV_ENDPOINT = config.ENV_ENDPOINT
# Everything the crawler stores, in one listing call (HUB_PROTOCOL.md lists the allowed
# values) and nothing it does not: the front matter is read from the downloaded card (its
# body carries recipes too), and a listing never shows private repos.
LISTING_EXPAND: tuple[str, ...] = (
    "tags",
    "sha",
    "lastModified",
    "createdAt",
    "config",
    "siblings",
    "downloads",
    "likes",
    "gated",
    "library_name",
    "pipeline_tag",
    "safetensors",
)
# What kinhub asked for up to commit 2a055c4 (benchmarks reproduce that strategy).
LEGACY_LISTING_EXPAND: tuple[str, ...] = (
    "cardData",
    *LISTING_EXPAND[:8],
    "private",
    *LISTING_EXPAND[8:],
)
FileStrategy = Literal["direct", "hf_hub_download"]
# Resolver requests a small-file download costs: GET /resolve (307) + GET at the resolve
# cache; hf_hub_download adds a HEAD on each hop and then GETs only the second.
FILE_REQUESTS: dict[str, int] = {"direct": 2, "hf_hub_download": 3}
MIN_PAGE_SIZE = 10
MAX_TEXT_BYTES = 8 * 1024 * 1024
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (httpx2.TransportError, LocalEntryNotFoundError, FileMetadataError, ValueError)

T = TypeVar("T")

# Re-exported: callers import the client's data types and policy from here.
__all__ = [
    "HubClient",
    "HubModel",
    "ListingPage",
    "RetryPolicy",
    "delete_cached_revisions",
    "resolve_endpoint",
    "scan_cache",
    "shared_client",
]


# The HubClient whose call is running in this context: the response hook reports to it.
_ACTIVE: ContextVar[HubClient | None] = ContextVar("kinhub_hub_client", default=None)
_HOOK_LOCK = threading.Lock()


def _observe_response(response: httpx2.Response) -> None:
    client = _ACTIVE.get()
    if client is not None:
        client._observe(response)


def _ensure_response_hook() -> None:
    """Let every HTTP response of the shared session (downloads included) reach the
    HubClient whose call made it.

    Why a hook at all: ``hf_hub_download`` and ``snapshot_download`` retry 408/429
    answers (and 5xx on their second HEAD) internally, sleeping as the rate-limit
    headers say, and offer no parameter to turn that off or observe it.  Without the
    hook the client would neither count those 429s nor pause the bucket for its other
    threads.  Narrowest public means: ``get_session()`` is public and ``event_hooks`` is
    the public attribute of the ``httpx`` client it returns; we add one hook and keep
    the client ``huggingface_hub`` built (its request hook, offline mode, redirects),
    rather than replacing the process-wide client factory.  The hook does nothing
    outside a HubClient call.  Checked on every call because the session is rebuilt
    after ``close_session()`` (a fork, a new client factory).
    """
    session = get_session()
    if _observe_response in session.event_hooks["response"]:
        return
    with _HOOK_LOCK:
        hooks = session.event_hooks
        if _observe_response not in hooks["response"]:
            session.event_hooks = {**hooks, "response": [*hooks["response"], _observe_response]}


def resolve_endpoint(endpoint: str | None = None) -> str:
    """``endpoint``, else ``$HF_ENDPOINT`` (read now, not at import), else the Hub."""
    return config.endpoint(endpoint)


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


def _rate_limit_wait(exc: HfHubHTTPError) -> tuple[float | None, bool]:
    """How long a 429 asks us to wait, and whether that holds for the whole bucket.

    ``RateLimit`` with ``r=0``: the window is spent, wait its reset ``t`` (every thread).
    Else a numeric ``Retry-After``.  A 429 whose header still shows requests remaining
    (``r>0``) does not mean the quota is used up — its ``t`` is just the window's end,
    possibly minutes away — so it gives no wait (None: back off briefly and retry).
    """
    headers = exc.response.headers if exc.response is not None else {}
    info = parse_ratelimit_headers(headers)
    if info is not None and info.remaining == 0:
        return float(info.reset_in_seconds), True
    retry_after = headers.get("Retry-After", "")
    if retry_after.strip().isdigit():
        return float(retry_after), True
    return None, False


def _normalize_etag(value: str | None) -> str | None:
    if not value:
        return None
    return value.removeprefix("W/").strip('"') or None


_MAX_HOPS = 5


def _git_blob_id(data: bytes) -> str:
    digest = hashlib.sha1(f"blob {len(data)}\0".encode(), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def _redirect_etag(response: httpx2.Response, target: httpx2.URL) -> str | None:
    """The blob id a resolve redirect names: its ``X-Linked-Etag``/``ETag`` header, else
    the ``etag`` parameter of the resolve-cache URL it points at."""
    header = response.headers.get("X-Linked-Etag") or response.headers.get("ETag")
    return _normalize_etag(header or target.params.get("etag"))


def _matches_blob(data: bytes, etag: str) -> bool:
    """Whether ``data`` is the blob ``etag`` names (git sha1 or LFS sha256)."""
    if len(etag) == 40:
        return _git_blob_id(data) == etag
    if len(etag) == 64:
        return hashlib.sha256(data).hexdigest() == etag
    return True  # not a content id: nothing to check against


class _PageTimedOut(Exception):
    """A listing page the Hub gave up on (504 or no answer): fetch it smaller."""


def _unavailable(
    repo_id: str, exc: HfHubHTTPError, *, filename: str | None = None
) -> RepoUnavailableError:
    """The database status for a final (non-retryable) error about ``repo_id``."""
    status = _status_of(exc)
    if isinstance(exc, GatedRepoError):
        return RepoUnavailableError(repo_id, "gated", "gated repo: access not granted")
    if isinstance(exc, RemoteEntryNotFoundError) and filename is not None:
        return RepoUnavailableError(repo_id, "not_found", f"file {filename} not found")
    if isinstance(exc, RevisionNotFoundError):
        return RepoUnavailableError(repo_id, "not_found", "revision not found")
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return RepoUnavailableError(repo_id, "not_found", "repository not found")
    if isinstance(exc, DisabledRepoError):
        return RepoUnavailableError(repo_id, "error", "repository disabled")
    if status in (401, 403):
        return RepoUnavailableError(repo_id, "private", f"HTTP {status}: not accessible")
    return RepoUnavailableError(repo_id, "error", f"HTTP {status}")


def _reason(error: BaseException, endpoint: str) -> str:
    """Why a call failed, in words for a log line (never the request headers)."""
    if isinstance(error, httpx2.TransportError):
        return f"cannot reach {endpoint}: {type(error).__name__}"
    status = _status_of(error)
    if status is not None:
        return f"HTTP {status} from {endpoint}"
    return f"{type(error).__name__}: {error}"


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
    """A rate-limited, retrying Hub client (crawler and kinship); thread-safe.

    Counts per bucket: logical calls (``calls``: a listing page, a model_info,
    two per file download, one per size or Range read), HTTP responses actually
    received (``http``, the client's internal retries included), retries it made
    (``retries``) and 429 answers (``rate_limited``).  The first 429 of each bucket
    is logged as a WARNING, later ones at INFO.
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
        files: FileStrategy = "direct",
        expand: Sequence[str] = LISTING_EXPAND,
    ) -> None:
        if files not in FILE_REQUESTS:
            raise ValueError(f"unknown file strategy {files!r}")
        self.files = files
        # The fields asked for in listings and model_info (LEGACY_LISTING_EXPAND: as before).
        self.expand = tuple(expand)
        self.endpoint = resolve_endpoint(endpoint)
        self._token = token
        self.limits = limits or RateLimits.for_plan()
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        # None: resolved from HF_HUB_CACHE / HF_HOME at each download (hub.config).
        self.cache_dir = cache_dir
        self._sleep = sleep
        self._api = HfApi(endpoint=self.endpoint, token=token, library_name="kinhub")
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.retries: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.rate_limited: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.http: Counter[str] = Counter({API: 0, RESOLVE: 0})
        self.malformed = 0
        self.page_shrinks = 0
        self.files_reused = 0  # stored texts whose blob id the Hub's 307 confirmed
        # The largest listing page size the Hub answered in time after a timeout.
        self.page_limit: int | None = None
        self._limit_warned: set[str] = set()

    def with_retry(self, retry: RetryPolicy) -> HubClient:
        """A client sharing this one's endpoint, token, cache and rate limiters that
        retries as ``retry`` says (a quick probe need not wait out a long outage)."""
        return HubClient(
            endpoint=self.endpoint,
            token=self._token,
            limits=self.limits,
            retry=retry,
            timeout_s=self.timeout_s,
            cache_dir=self.cache_dir,
            sleep=self._sleep,
            files=self.files,
            expand=self.expand,
        )

    @property
    def anonymous(self) -> bool:
        """Whether requests go out without credentials (no token given or found).

        Only asks ``huggingface_hub`` which headers it would send; the token itself is
        neither kept nor shown.
        """
        headers = build_hf_headers(token=self._token, library_name="kinhub")
        return not any(key.lower() == "authorization" for key in headers)

    def _observe(self, response: httpx2.Response) -> None:
        """Count one HTTP response in the bucket its ``RateLimit`` policy names (else
        by path: ``/resolve/`` and ``/api/resolve-cache/`` are resolver requests); when
        the header says the window is spent (``r=0``), pause that bucket until ``t``."""
        info = parse_ratelimit_headers(response.headers)
        bucket = bucket_of(
            path=response.request.url.path, policy=info.resource_type if info else None
        )
        with self._lock:
            self.http[bucket] += 1
            if response.status_code == 429:
                self.rate_limited[bucket] += 1
        # Only a policy kinhub spends from (not "pages") pauses one of its buckets.
        if info is not None and info.remaining == 0 and info.resource_type in POLICY_BUCKETS:
            self.limits.bucket(bucket).pause(float(info.reset_in_seconds))

    def _first_limit(self, bucket: str) -> bool:
        """Whether this is the first 429 wait of ``bucket`` (warn once, not per thread)."""
        with self._lock:
            first = bucket not in self._limit_warned
            self._limit_warned.add(bucket)
        return first

    def _count(self, counter: Counter[str], bucket: str, n: int = 1) -> None:
        with self._lock:
            counter[bucket] += n

    def _call(
        self, bucket: str, what: str, fn: Callable[[], T], *, cost: int = 1, repo_id: str | None
    ) -> T:
        """Run ``fn`` under the bucket's limiter, retrying what is transient.

        The first retry of a call is logged as a WARNING (so an unreachable Hub is not
        silent at default verbosity); later retries of the same call at INFO.

        Raises:
            RepoUnavailableError: a final answer about the repo (404, gated, 401/403).
            HubError: retries exhausted, or offline mode is on.
        """
        _ensure_response_hook()
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
                    announced, whole_bucket = _rate_limit_wait(exc)
                    if announced is None:
                        # r>0: not the quota; a short backoff, this call only.
                        wait = self.retry.backoff(min(waits, 8))
                    else:
                        # A reset of 0 s still means "this window is spent": back off a little.
                        wait = max(announced, self.retry.base_delay_s)
                    logger.log(
                        logging.WARNING if self._first_limit(bucket) else logging.INFO,
                        "%s: rate limited by the Hub (%s requests%s); waiting %.1fs",
                        what,
                        bucket,
                        "" if whole_bucket else ", requests remain in the window",
                        wait,
                    )
                    if whole_bucket:
                        limiter.pause(wait)
                    else:
                        self._sleep(wait)
                    self._count(self.retries, bucket)
                    continue
                if status not in _RETRY_STATUSES:
                    if repo_id is None:
                        raise HubError(f"{what}: HTTP {status}") from exc
                    raise _unavailable(repo_id, exc) from exc
                error: BaseException = exc
            except OfflineModeIsEnabled as exc:
                raise HubError(f"{what}: offline mode is on (HF_HUB_OFFLINE)") from exc
            except _TRANSIENT as exc:
                error = exc
            finally:
                _ACTIVE.reset(active)
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise HubError(
                    f"{what}: gave up after {attempt} attempts ({_reason(error, self.endpoint)})",
                    repo_id=repo_id,
                ) from error
            delay = self.retry.backoff(attempt)
            logger.log(
                logging.WARNING if attempt == 1 else logging.INFO,
                "%s: %s; retrying (retry %d of %d, next in %.1fs)",
                what,
                _reason(error, self.endpoint),
                attempt,
                self.retry.max_attempts - 1,
                delay,
            )
            self._count(self.retries, bucket)
            self._sleep(delay)

    # -- listing -------------------------------------------------------------------

    def listing_url(
        self,
        *,
        filters: Sequence[str] = (),
        sort: str = "lastModified",
        expand: Sequence[str] | None = None,
        page_size: int = 1000,
    ) -> str:
        """The absolute URL of a listing's first page (what a cursor starts from);
        ``expand`` defaults to the client's fields."""
        if expand is None:
            expand = self.expand
        if self.page_limit is not None:
            page_size = min(page_size, self.page_limit)
        params: list[tuple[str, str]] = [("filter", f) for f in filters]
        params += [("sort", sort), ("limit", str(page_size))]
        params += [("expand", e) for e in expand]
        return str(httpx2.URL(f"{self.endpoint}/api/models", params=params))

    def owns(self, url: str) -> bool:
        """Whether ``url`` (e.g. a stored next-page link) points at this endpoint."""
        return url.startswith(self.endpoint + "/")

    def list_page(self, url: str) -> ListingPage:
        """Fetch one listing page (a first-page URL or a stored next-page link).

        A page the Hub times out on (504, or no answer within the timeout) is asked
        for again at half its ``limit`` (down to ``MIN_PAGE_SIZE``), at once: the
        returned page's ``url`` is the link that worked, and its next link carries the
        smaller size on.  Items the client cannot read come back in ``malformed``.

        Raises:
            HubError: the page could not be fetched after every retry, or the link
                does not belong to this endpoint.
        """
        if not self.owns(url):
            raise HubError(f"listing link {url!r} is not on endpoint {self.endpoint}")
        while True:
            try:
                fetch = functools.partial(self._fetch_page, url)
                return self._call(API, "list models", fetch, repo_id=None)
            except _PageTimedOut as timed_out:
                smaller = _smaller_page(url)
                if smaller is None:
                    raise HubError(f"list models: {timed_out} even at the smallest page") from None
                limit = int(httpx2.URL(smaller).params["limit"])
                with self._lock:
                    self.page_shrinks += 1
                    self.retries[API] += 1
                    self.page_limit = min(self.page_limit or limit, limit)
                logger.warning(
                    "list models: %s; asking again for %d items per page", timed_out, limit
                )
                url = smaller

    def _fetch_page(self, url: str) -> ListingPage:
        try:
            response = get_session().get(
                url,
                headers=build_hf_headers(token=self._token, library_name="kinhub"),
                timeout=self.timeout_s,
            )
        except httpx2.TimeoutException as exc:
            if _smaller_page(url) is not None:
                raise _PageTimedOut(f"no answer within {self.timeout_s:.0f}s") from exc
            raise
        if response.status_code == 504 and _smaller_page(url) is not None:
            raise _PageTimedOut("the Hub timed out on the page (HTTP 504)")
        hf_raise_for_status(response)
        items = response.json()
        if not isinstance(items, list):
            raise ValueError("listing answer is not a JSON array")
        models: list[HubModel] = []
        malformed: list[MalformedItem] = []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise TypeError(f"item is a {type(item).__name__}, not an object")
                models.append(HubModel.from_info(ModelInfo(**item)))
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                repo_id = item.get("id") if isinstance(item, dict) else None
                reason = f"{type(exc).__name__}: {exc}"[:300]
                logger.warning("listing item %r cannot be read (%s)", repo_id, reason)
                malformed.append(
                    MalformedItem(
                        repo_id=repo_id if isinstance(repo_id, str) else None, error=reason
                    )
                )
        if malformed:
            with self._lock:
                self.malformed += len(malformed)
        next_url = response.links.get("next", {}).get("url")
        return ListingPage(url=url, models=models, next_url=next_url, malformed=malformed)

    # -- single repos ------------------------------------------------------------------

    def model_info(self, repo_id: str, *, revision: str | None = None) -> HubModel:
        """One model's facts at ``revision`` (default branch if None): one API call,
        plus retries.

        Raises:
            RepoUnavailableError: not found, gated, private or another final error.
            HubError: retries exhausted.
        """
        validate_repo_id(repo_id)

        def fetch() -> HubModel:
            expand: Any = list(self.expand)  # the client types these as Literals
            info = self._api.model_info(
                repo_id, revision=revision, expand=expand, timeout=self.timeout_s
            )
            return HubModel.from_info(info)

        return self._call(API, f"model_info {repo_id}", fetch, repo_id=repo_id)

    # -- whole files -------------------------------------------------------------------

    def _download(
        self,
        repo_id: str,
        filename: str,
        *,
        revision: str | None,
        verify: bool,
        cache_dir: Path | None = None,
    ) -> Path | None:
        """``hf_hub_download`` of one file into the cache under the resolve bucket (a HEAD
        and a GET); None if the repo has no such file.  ``verify`` re-hashes the body
        against its blob id (small files); a mismatch is fetched again."""
        validate_repo_id(repo_id)
        state = {"force": False}

        def fetch() -> Path | None:
            try:
                path = Path(
                    hf_hub_download(
                        repo_id,
                        filename,
                        revision=revision,
                        endpoint=self.endpoint,
                        token=self._token,
                        cache_dir=config.cache_dir(cache_dir or self.cache_dir),
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
                if isinstance(exc, HfHubHTTPError | OfflineModeIsEnabled):
                    raise
                # The client's size check ("Consistency check failed"), or a cache problem.
                state["force"] = True
                raise ValueError(f"download of {filename} failed: {exc}") from exc
            if verify and not _verify_blob(path):
                state["force"] = True
                raise ValueError(f"{filename}: downloaded bytes do not match the blob id")
            return path

        cost = FILE_REQUESTS["hf_hub_download"]
        what = f"download {repo_id}/{filename}"
        return self._call(RESOLVE, what, fetch, cost=cost, repo_id=repo_id)

    def read_text(
        self, repo_id: str, filename: str, *, revision: str | None, known: str | None = None
    ) -> str | None:
        """A small file's text at ``revision`` (the commit sha), or None if absent.

        A GET on ``/resolve/`` and one on the resolve cache its 307 points at: two
        resolver requests (``files="hf_hub_download"``: the client's HEAD, HEAD, GET
        into the cache, three).  The 307 names the file's blob id; when ``known`` (the
        text stored from an earlier commit) is that blob, it is returned without the
        second request.  A body that does not match the blob id its ETag names is
        fetched again.

        Raises:
            RepoUnavailableError: the repo is gated, not found or not accessible.
            HubError: retries exhausted.
        """
        if self.files == "hf_hub_download":
            path = self._download(repo_id, filename, revision=revision, verify=True)
            if path is None:
                return None
            with path.open("rb") as handle:
                return handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")
        url = self._url(repo_id, filename, revision)
        headers = build_hf_headers(token=self._token, library_name="kinhub")
        headers["Accept-Encoding"] = "identity"  # the bytes the ETag names
        known_blob = _git_blob_id(known.encode("utf-8")) if known is not None else None
        limiter = self.limits.bucket(RESOLVE)

        def fetch() -> str | None:
            response = get_session().get(
                url, headers=headers, follow_redirects=False, timeout=self.timeout_s
            )
            for _ in range(_MAX_HOPS):
                if not response.has_redirect_location:
                    break
                target = response.url.join(response.headers["Location"])
                if known_blob is not None and _redirect_etag(response, target) == known_blob:
                    with self._lock:
                        self.files_reused += 1
                    return known
                hop_headers = headers
                if target.host != httpx2.URL(url).host or target.port != httpx2.URL(url).port:
                    # Off the Hub (a CDN): no credentials, and not a resolver request.
                    hop_headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                else:
                    limiter.acquire()
                    self._count(self.calls, RESOLVE)
                response = get_session().get(
                    target, headers=hop_headers, follow_redirects=False, timeout=self.timeout_s
                )
            if response.has_redirect_location:
                raise HubError(f"{filename}: more than {_MAX_HOPS} redirects", repo_id=repo_id)
            try:
                hf_raise_for_status(response)
            except RemoteEntryNotFoundError:
                return None
            except HfHubHTTPError as exc:
                if _status_of(exc) in _RETRY_STATUSES:
                    raise
                raise _unavailable(repo_id, exc) from exc
            data = response.content
            etag = _normalize_etag(
                response.headers.get("X-Linked-Etag") or response.headers.get("ETag")
            )
            if etag is not None and not _matches_blob(data, etag):
                raise ValueError(f"{filename}: downloaded bytes do not match the blob id")
            return data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")

        # One request up front; each redirect hop on the Hub acquires its own.
        what = f"download {repo_id}/{filename}"
        return self._call(RESOLVE, what, fetch, cost=1, repo_id=repo_id)

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

    def _cached_snapshot(
        self,
        repo_id: str,
        *,
        revision: str | None,
        patterns: Sequence[str],
        cache_dir: Path | None,
    ) -> Path | None:
        try:
            return Path(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    allow_patterns=list(patterns),
                    cache_dir=config.cache_dir(cache_dir or self.cache_dir),
                    endpoint=self.endpoint,
                    local_files_only=True,
                )
            )
        except (LocalEntryNotFoundError, OSError, ValueError):
            return None

    # -- byte ranges -------------------------------------------------------------------

    def _url(self, repo_id: str, filename: str, revision: str | None) -> str:
        validate_repo_id(repo_id)
        return hf_hub_url(repo_id, filename, revision=revision, endpoint=self.endpoint)

    def file_size(self, repo_id: str, filename: str, *, revision: str | None) -> int:
        """A file's size in bytes from a HEAD on the resolve bucket (no body is read).

        Raises:
            RepoUnavailableError: repo or file not found, gated or not accessible.
            HubError: retries exhausted, or the Hub reported no size.
        """
        url = self._url(repo_id, filename, revision)

        def fetch() -> int:
            try:
                meta = get_hf_file_metadata(
                    url,
                    token=self._token,
                    timeout=self.timeout_s,
                    library_name="kinhub",
                    endpoint=self.endpoint,
                )
            except HfHubHTTPError as exc:
                if _status_of(exc) in _RETRY_STATUSES:
                    raise
                raise _unavailable(repo_id, exc, filename=filename) from exc
            if meta.size is None:
                raise HubError(f"{filename}: the Hub reported no file size", repo_id=repo_id)
            return int(meta.size)

        return self._call(RESOLVE, f"size of {repo_id}/{filename}", fetch, repo_id=repo_id)

    def read_range(
        self, repo_id: str, filename: str, *, revision: str | None, offset: int, length: int
    ) -> bytes:
        """Bytes ``[offset, offset+length)`` of a file, by one HTTP Range request on the
        resolve bucket (rate limited, retried, 429s waited out).  A body shorter than
        asked is retried, so the result always has ``length`` bytes.

        Raises:
            RepoUnavailableError: repo or file not found, gated or not accessible.
            HubError: retries exhausted.
        """
        if length <= 0:
            return b""
        url = self._url(repo_id, filename, revision)
        headers = build_hf_headers(token=self._token, library_name="kinhub")
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"

        def fetch() -> bytes:
            response = get_session().get(
                url, headers=headers, follow_redirects=True, timeout=self.timeout_s
            )
            try:
                hf_raise_for_status(response)
            except HfHubHTTPError as exc:
                if _status_of(exc) in _RETRY_STATUSES:
                    raise
                raise _unavailable(repo_id, exc, filename=filename) from exc
            data = response.content
            if response.status_code == 200:  # the server ignored Range: keep the slice
                logger.warning("%s/%s: the server ignored the Range header", repo_id, filename)
                data = data[offset : offset + length]
            if len(data) != length:
                raise ValueError(f"short read: {len(data)} of {length} bytes")
            return bytes(data)

        return self._call(RESOLVE, f"read {repo_id}/{filename}", fetch, repo_id=repo_id)

    def stats(self) -> dict[str, Any]:
        """Calls, retries and server rate limits per bucket, client-side waits, listing
        items that could not be read and pages fetched again smaller."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "http": dict(self.http),
                "retries": dict(self.retries),
                "rate_limited": dict(self.rate_limited),
                "malformed_items": self.malformed,
                "page_shrinks": self.page_shrinks,
                "files_reused": self.files_reused,
                "throttled_s": {
                    API: round(self.limits.api.waited_s, 3),
                    RESOLVE: round(self.limits.resolve.waited_s, 3),
                },
            }


def _smaller_page(url: str) -> str | None:
    """``url`` with half its ``limit`` (at least ``MIN_PAGE_SIZE``), or None when it
    cannot get smaller."""
    parsed = httpx2.URL(url)
    try:
        limit = int(parsed.params.get("limit", ""))
    except ValueError:
        return None
    if limit <= MIN_PAGE_SIZE:
        return None
    return str(parsed.copy_set_param("limit", str(max(MIN_PAGE_SIZE, limit // 2))))


_SHARED: dict[str, HubClient] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(endpoint: str | None = None) -> HubClient:
    """The process's one client for ``endpoint`` (``HF_ENDPOINT`` read now if None):
    everything that reads the Hub outside a crawl (kinship reads, fingerprints) shares
    its limiters, so parallel readers stay inside one quota together.

    Anonymous-plan quotas, default retries; the token is found by ``huggingface_hub``.
    """
    url = config.endpoint(endpoint)
    with _SHARED_LOCK:
        client = _SHARED.get(url)
        if client is None:
            client = _SHARED[url] = HubClient(endpoint=url)
        return client


# -- the local cache (kinhub.hub.cache builds on these) ---------------------------------


def scan_cache(cache_dir: Path | None = None) -> Any:
    """``huggingface_hub``'s scan of the download cache (``HFCacheInfo``; ``cache_dir``,
    else ``HF_HUB_CACHE``/``HF_HOME`` read now), or None when there is no cache yet.

    Typed ``Any`` so callers read its attributes without importing the client.
    """
    try:
        return scan_cache_dir(config.cache_dir(cache_dir))
    except CacheNotFound:
        return None


def delete_cached_revisions(revisions: Sequence[str], *, cache_dir: Path | None = None) -> int:
    """Delete cached revisions (commit hashes) with the client's own deletion strategy
    (blobs shared with a kept revision stay); returns the bytes it expected to free."""
    info = scan_cache(cache_dir)
    if info is None or not revisions:
        return 0
    strategy = info.delete_revisions(*revisions)
    strategy.execute()
    return int(strategy.expected_freed_size)
