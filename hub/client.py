"""Everything that talks to the Hub: the one module importing ``huggingface_hub``.

The crawler (listings, model info, small files) and the kinship engine (weight
snapshots, file sizes, HTTP Range reads of safetensors) both go through
:class:`HubClient`.  It owns the endpoint (``hub.config``, read at call time), the
token (never read, printed or stored here: ``None`` lets the client find
``HF_TOKEN`` or the saved login), timeouts, every request and the mapping of the
client's errors onto kinhub's (:class:`RepoUnavailableError` carries the status the
database records; :class:`HubError` means retries ran out).  Beside it, without
``huggingface_hub``: the retry loop (``hub.retry``), rate limits and ``RateLimit``
headers (``hub.ratelimit``), the counters behind ``stats()`` (``hub.accounting``),
listing pages (``hub.listing``), redirects followed by hand (``hub.redirects``), blob
ids (``hub.blobs``) and the shared client per endpoint (``hub.shared``).

A small file costs two resolver requests here (:meth:`HubClient.read_text`), three
through ``hf_hub_download`` (``files="hf_hub_download"``, what benchmarks compare).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

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
from kinhub.db.settings import shown_endpoint
from kinhub.hub import blobs, config, listing, ranges, redirects
from kinhub.hub.accounting import Accounting, Counted
from kinhub.hub.errors import HubError, RepoUnavailableError, no_connection
from kinhub.hub.listing import Listings
from kinhub.hub.models import HubModel, ListingPage
from kinhub.hub.ratelimit import API, RESOLVE, RateLimits, server_wait
from kinhub.hub.retry import Final, RateLimited, RetryPolicy, Transient, Verdict, call_with_retries
from kinhub.hub.snapshots import Snapshots

logger = logging.getLogger(__name__)

FileStrategy = Literal["direct", "hf_hub_download"]
# Resolver requests a small-file download costs: GET /resolve (307) + GET at the resolve
# cache; hf_hub_download adds a HEAD on each hop and then GETs only the second.
FILE_REQUESTS: dict[str, int] = {"direct": 2, "hf_hub_download": 3}
MAX_TEXT_BYTES = 8 * 1024 * 1024
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (httpx2.TransportError, LocalEntryNotFoundError, FileMetadataError, ValueError)

T = TypeVar("T")

__all__ = [
    "HubClient",
    "delete_cached_revisions",
    "scan_cache",
]


# The accounting of the HubClient call running in this context: the response hook
# reports to it.
_ACTIVE: ContextVar[Accounting | None] = ContextVar("kinhub_hub_client", default=None)
_HOOK_LOCK = threading.Lock()


def _observe_response(response: httpx2.Response) -> None:
    accounting = _ACTIVE.get()
    if accounting is not None:
        accounting.observe(
            path=response.request.url.path,
            status=response.status_code,
            info=parse_ratelimit_headers(response.headers),
        )


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


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return exc.response.status_code
    return None


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


def _raise_final(repo_id: str, exc: HfHubHTTPError, *, filename: str | None = None) -> NoReturn:
    """Re-raise ``exc`` when a retry may help, else raise what it means for the repo."""
    if _status_of(exc) in _RETRY_STATUSES:
        raise exc
    raise _unavailable(repo_id, exc, filename=filename) from exc


def _check(response: httpx2.Response, repo_id: str, filename: str) -> None:
    """Raise what an error status means (:func:`_raise_final`); nothing on success."""
    try:
        hf_raise_for_status(response)
    except HfHubHTTPError as exc:
        _raise_final(repo_id, exc, filename=filename)


def _reason(error: BaseException, endpoint: str) -> str:
    """Why a call failed, in words for a log line (never the request headers, nor the
    endpoint's user info)."""
    endpoint = shown_endpoint(endpoint)
    if isinstance(error, httpx2.TransportError):
        return f"cannot reach {endpoint}: {type(error).__name__}"
    status = _status_of(error)
    if status is not None:
        return f"HTTP {status} from {endpoint}"
    return f"{type(error).__name__}: {error}"


class HubClient(Counted, Listings, Snapshots, ranges.RangeReads):
    """A rate-limited, retrying Hub client (crawler and kinship); thread-safe.

    What it counts (``calls``, ``http``, ``retries``, ``rate_limited`` per bucket, …)
    is read as attributes or :meth:`stats` (see ``hub.accounting``).
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
        expand: Sequence[str] = listing.LISTING_EXPAND,
    ) -> None:
        if files not in FILE_REQUESTS:
            raise ValueError(f"unknown file strategy {files!r}")
        self.files = files
        # The fields asked for in listings and model_info (LEGACY_LISTING_EXPAND: as before).
        self.expand = tuple(expand)
        self.endpoint = config.endpoint(endpoint)  # else $HF_ENDPOINT, read now
        self._token = token
        # Plan quotas are huggingface.co's; another endpoint keeps its own (429s).
        self.limits = limits or RateLimits.for_hub(self.endpoint)
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        # None: resolved from HF_HUB_CACHE / HF_HOME at each download (hub.config).
        self.cache_dir = cache_dir
        self._sleep = sleep
        self._api = HfApi(endpoint=self.endpoint, token=token, library_name="kinhub")
        self._accounting = Accounting(self.limits)
        self._session = get_session  # for hub.ranges' reads at CDN locations

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

    def _headers(self) -> dict[str, str]:
        return build_hf_headers(token=self._token, library_name="kinhub")

    @property
    def anonymous(self) -> bool:
        """Whether requests go out without credentials (no token given or found).

        Only asks ``huggingface_hub`` which headers it would send; the token itself is
        neither kept nor shown.
        """
        return not any(key.lower() == "authorization" for key in self._headers())

    # -- every call -------------------------------------------------------------------

    def _call(
        self, bucket: str, what: str, fn: Callable[[], T], *, cost: int = 1, repo_id: str | None
    ) -> T:
        """Run ``fn`` under the bucket's limiter, retrying what is transient
        (``hub.retry``); the responses it gets are counted by this client.

        Raises:
            RepoUnavailableError: a final answer about the repo (404, gated, 401/403).
            HubError: retries exhausted, or offline mode is on.
        """
        _ensure_response_hook()

        def attempt() -> T:
            active = _ACTIVE.set(self._accounting)
            try:
                return fn()
            finally:
                _ACTIVE.reset(active)

        return call_with_retries(
            attempt,
            what=what,
            repo_id=repo_id,
            bucket=bucket,
            cost=cost,
            policy=self.retry,
            limits=self.limits,
            accounting=self._accounting,
            classify=functools.partial(self._verdict, what=what, repo_id=repo_id),
            sleep=self._sleep,
            endpoint=self.endpoint,
        )

    def _verdict(self, exc: Exception, *, what: str, repo_id: str | None) -> Verdict | None:
        """What a failed attempt means; None for an error that is not the Hub's."""
        if isinstance(exc, HfHubHTTPError):
            status = _status_of(exc)
            if status == 429:
                headers = exc.response.headers if exc.response is not None else {}
                wait, whole_bucket = server_wait(
                    parse_ratelimit_headers(headers), retry_after=headers.get("Retry-After", "")
                )
                return RateLimited(wait=wait, whole_bucket=whole_bucket)
            if status not in _RETRY_STATUSES:
                if repo_id is None:
                    return Final(HubError(f"{what}: HTTP {status}"))
                return Final(_unavailable(repo_id, exc))
            return Transient(_reason(exc, self.endpoint))
        if isinstance(exc, OfflineModeIsEnabled):
            return Final(HubError(f"{what}: offline mode is on (HF_HUB_OFFLINE)"))
        if isinstance(exc, _TRANSIENT):
            return Transient(_reason(exc, self.endpoint), unreachable=no_connection(exc))
        return None

    # -- listing -------------------------------------------------------------------

    def _get_page(self, url: str) -> ListingPage:
        return self._call(
            API, "list models", functools.partial(self._fetch_page, url), repo_id=None
        )

    def _fetch_page(self, url: str) -> ListingPage:
        try:
            response = get_session().get(
                url,
                headers=self._headers(),
                timeout=self.timeout_s,
            )
        except httpx2.TimeoutException as exc:
            if listing.smaller_page(url) is not None:
                raise listing.PageTimedOut(f"no answer within {self.timeout_s:.0f}s") from exc
            raise
        if response.status_code == 504 and listing.smaller_page(url) is not None:
            raise listing.PageTimedOut("the Hub timed out on the page (HTTP 504)")
        hf_raise_for_status(response)
        models, malformed = listing.read_items(
            response.json(), read=lambda item: HubModel.from_info(ModelInfo(**item))
        )
        if malformed:
            self._accounting.count_malformed(len(malformed))
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
            if verify and not blobs.verify_cached_blob(path):
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
        headers = self._headers()
        headers["Accept-Encoding"] = "identity"  # the bytes the ETag names
        known_blob = blobs.git_blob_id(known.encode("utf-8")) if known is not None else None

        def fetch() -> str | None:
            response = redirects.get_following(
                get_session(),
                url,
                headers=headers,
                timeout=self.timeout_s,
                on_hub_hop=self._hub_hop,
                known_blob=known_blob,
            )
            if response is None:  # the 307 named the blob of the stored text
                self._accounting.count_file_reused()
                return known
            if response.has_redirect_location:
                raise HubError(
                    f"{filename}: more than {redirects.MAX_HOPS} redirects", repo_id=repo_id
                )
            try:
                hf_raise_for_status(response)
            except RemoteEntryNotFoundError:
                return None
            except HfHubHTTPError as exc:
                _raise_final(repo_id, exc)
            data = response.content
            etag = blobs.etag_of(response.headers)
            if etag is not None and not blobs.matches_blob(data, etag):
                raise ValueError(f"{filename}: downloaded bytes do not match the blob id")
            return data[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")

        # One request up front; each redirect hop on the Hub acquires its own.
        what = f"download {repo_id}/{filename}"
        return self._call(RESOLVE, what, fetch, cost=1, repo_id=repo_id)

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
                _raise_final(repo_id, exc, filename=filename)
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
        headers = self._headers()
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"

        def fetch() -> bytes:
            response = get_session().get(
                url, headers=headers, follow_redirects=True, timeout=self.timeout_s
            )
            _check(response, repo_id, filename)
            data = response.content
            if response.status_code == 200:  # the server ignored Range: keep the slice
                logger.warning("%s/%s: the server ignored the Range header", repo_id, filename)
                data = data[offset : offset + length]
            if len(data) != length:
                raise ValueError(f"short read: {len(data)} of {length} bytes")
            return bytes(data)

        return self._call(RESOLVE, f"read {repo_id}/{filename}", fetch, repo_id=repo_id)

    def _locate(self, repo_id: str, filename: str, revision: str | None) -> ranges.Location:
        """Resolve a file to where its bytes are read (``hub.ranges.locate``), rate
        limited, retried and counted on the resolver bucket, errors mapped."""
        url = self._url(repo_id, filename, revision)

        def fetch() -> ranges.Location:
            session, headers = get_session(), self._headers()
            found = ranges.locate(
                session, url, headers=headers, timeout=self.timeout_s, on_hub_hop=self._hub_hop
            )
            if not isinstance(found, ranges.Location):
                _check(found, repo_id, filename)
                raise HubError(f"{filename}: HTTP {found.status_code}", repo_id=repo_id)
            return found

        return self._call(RESOLVE, f"resolve {repo_id}/{filename}", fetch, repo_id=repo_id)

    def _hub_hop(self) -> None:
        """A redirect hop on the Hub: one more resolver request, limited and counted."""
        self.limits.bucket(RESOLVE).acquire()
        self._accounting.count_calls(RESOLVE)


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
