"""Byte ranges of Hub files, each file resolved once and read where it redirects to.

On the Hub a large file's ``/resolve/`` answers a 302 to a signed CDN location (about
an hour's validity) whose requests do not count against the resolver quota
(HUB_PROTOCOL.md).  A :class:`RangeReader` therefore resolves each file once (a HEAD
that follows the Hub's own hops — ``/resolve/``, ``/api/resolve-cache/`` — and stops
at the first location off them), remembers the location, and reads every range
there with one ``Range: bytes=a-b`` GET each (single ranges only: the CDN does not
promise multi-range answers).  A location is resolved again only when it expires:
just before the ``Expires`` it carries, or when the CDN answers 403.  Neighbouring
ranges of one file are read in one request when the gap between them is small
(:func:`coalesce`).  A file the resolve serves itself (small files; a Hub without
the CDN hop) is read from the resolve URL, one resolver request per range.

This module sends nothing on its own: the client (:mod:`kinhub.hub.client`) gives it
the session and the resolve step (rate limited, retried and counted on the resolver
bucket there); CDN reads are retried here, off every Hub quota.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx2
from kinhub.hub.errors import HubError
from kinhub.hub.retry import RetryPolicy

logger = logging.getLogger(__name__)

# Re-resolve this long before a location's announced expiry (clock skew, long reads).
EXPIRY_MARGIN_S = 60.0
# Ranges closer than this are read in one request (the gap's bytes are read and dropped).
DEFAULT_MAX_GAP = 4096
_HUB_PATHS = ("/api/resolve-cache/",)


class LocationExpired(HubError):
    """The signed location answered 403: resolve the file again."""


@dataclass(frozen=True)
class Location:
    """Where a file's bytes are read from, as its resolve answered.

    ``cdn``: off the Hub (reads there spend no resolver request); ``expires``: the
    Unix time the signed location stops working (None: not announced); ``hops``: Hub
    requests the resolve took.
    """

    url: str
    size: int | None
    cdn: bool
    expires: float | None
    hops: int
    headers: Mapping[str, str]


def is_hub_hop(origin: httpx2.URL, target: httpx2.URL) -> bool:
    """Whether a redirect target is one of the Hub's own resolve hops (same host, a
    ``/resolve/`` or ``/api/resolve-cache/`` path) rather than the file's location."""
    same = target.host == origin.host and target.port == origin.port
    path = target.path
    return same and ("/resolve/" in path or path.startswith(_HUB_PATHS))


def expiry_of(url: str) -> float | None:
    """The ``Expires`` (Unix seconds) a signed URL carries, if any."""
    values = parse_qs(urlsplit(url).query).get("Expires")
    if values and values[-1].isdigit():
        return float(values[-1])
    return None


def locate(
    session: httpx2.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    on_hub_hop: Callable[[], None],
    max_hops: int = 5,
) -> httpx2.Response | Location:
    """HEAD ``url`` and follow the Hub's hops to the file's location.

    ``on_hub_hop`` runs before each hop after the first (the caller acquires and counts
    a resolver request).  Returns the :class:`Location`, or the response when it is an
    error (the caller maps it).  Credentials never leave the Hub.
    """
    origin = httpx2.URL(url)
    response = session.head(url, headers=headers, follow_redirects=False, timeout=timeout)
    hops = 1
    for _ in range(max_hops):
        if response.status_code >= 400:
            return response
        if not response.has_redirect_location:
            size = response.headers.get("Content-Length")
            return Location(
                url=str(response.url),
                size=int(size) if size and size.isdigit() else None,
                cdn=False,
                expires=None,
                hops=hops,
                headers=dict(headers),
            )
        target = response.url.join(response.headers["Location"])
        if not is_hub_hop(origin, target):
            linked = response.headers.get("X-Linked-Size")
            bare = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            return Location(
                url=str(target),
                size=int(linked) if linked and linked.isdigit() else None,
                cdn=True,
                expires=expiry_of(str(target)),
                hops=hops,
                headers=bare,
            )
        on_hub_hop()
        hops += 1
        response = session.head(target, headers=headers, follow_redirects=False, timeout=timeout)
    raise HubError(f"{url}: more than {max_hops} redirects")


def coalesce(
    ranges: Sequence[tuple[int, int]], *, max_gap: int = DEFAULT_MAX_GAP
) -> list[tuple[int, int, list[int]]]:
    """Group ``(offset, length)`` ranges into requests: ``(offset, length, members)``
    with ``members`` the indexes of the ranges each request covers; ranges whose gap
    is at most ``max_gap`` bytes (or that overlap) share one request."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    out: list[tuple[int, int, list[int]]] = []
    for i in order:
        off, length = ranges[i]
        if out and off <= out[-1][0] + out[-1][1] + max_gap:
            start, span, members = out[-1]
            out[-1] = (start, max(span, off + length - start), [*members, i])
        else:
            out.append((off, length, [i]))
    return out


@dataclass
class RangeCounters:
    """What one reader spent: resolver requests (every Hub hop), CDN requests,
    re-resolves after an expiry, and the bytes read."""

    resolver: int = 0
    cdn: int = 0
    reresolves: int = 0
    bytes: int = 0


class RangeReader:
    """Ranges of the files of one repo at one commit, each file resolved once.

    ``resolve(filename)`` is the client's rate-limited, retried resolve (returns a
    :class:`Location`); ``read_hub(filename, offset, length)`` reads a range on
    ``/resolve/`` under the resolver bucket (files the resolve serves itself).
    Thread-safe.
    """

    def __init__(
        self,
        repo_id: str,
        *,
        resolve: Callable[[str], Location],
        read_hub: Callable[[str, int, int], bytes],
        session: Callable[[], httpx2.Client],
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_gap: int = DEFAULT_MAX_GAP,
        workers: int = 8,
    ) -> None:
        self.repo_id = repo_id
        self._resolve = resolve
        self._read_hub = read_hub
        self._session = session
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self.max_gap = max_gap
        self.workers = workers
        self.counters = RangeCounters()
        self._locations: dict[str, Location] = {}
        self._lock = threading.Lock()
        self._file_locks: dict[str, threading.Lock] = {}

    # -- locations ----------------------------------------------------------------------

    def location(self, filename: str, *, stale: Location | None = None) -> Location:
        """The file's location, resolved when not known yet, when it is about to expire,
        or when it is ``stale`` (a 403 came back from it)."""
        with self._lock:
            lock = self._file_locks.setdefault(filename, threading.Lock())
        with lock:  # one resolve per file even when many threads ask at once
            known = self._locations.get(filename)
            fresh = known is not None and known is not stale
            if fresh and known is not None and known.expires is not None:
                fresh = known.expires - EXPIRY_MARGIN_S > self._clock()
            if fresh and known is not None:
                return known
            found = self._resolve(filename)
            with self._lock:
                self.counters.resolver += found.hops
                if known is not None:
                    self.counters.reresolves += 1
                self._locations[filename] = found
            return found

    def size(self, filename: str) -> int:
        """The file's size (from its resolve; no extra request).

        Raises: HubError when the Hub did not say.
        """
        size = self.location(filename).size
        if size is None:
            raise HubError(f"{filename}: the Hub reported no file size", repo_id=self.repo_id)
        return size

    # -- reads --------------------------------------------------------------------------

    def read(self, filename: str, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset+length)`` of the file.

        Raises:
            RepoUnavailableError, HubError: from the resolve, or reads failing for good.
        """
        if length <= 0:
            return b""
        where = self.location(filename)
        for _ in range(2):
            if not where.cdn:
                data = self._read_hub(filename, offset, length)
                with self._lock:
                    self.counters.resolver += 1
                    self.counters.bytes += len(data)
                return data
            try:
                data = self._read_cdn(where, offset, length)
            except LocationExpired:
                logger.info("%s/%s: location expired; resolving again", self.repo_id, filename)
                where = self.location(filename, stale=where)
                continue
            with self._lock:
                self.counters.bytes += len(data)
            return data
        raise HubError(f"{filename}: a freshly resolved location is refused", repo_id=self.repo_id)

    def read_many(self, filename: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Every ``(offset, length)`` range of the file, in order; neighbours (gap at
        most ``max_gap``) share one request, requests run on ``workers`` threads."""
        groups = coalesce(ranges, max_gap=self.max_gap)
        out: list[bytes] = [b""] * len(ranges)

        def one(group: tuple[int, int, list[int]]) -> None:
            start, span, members = group
            data = self.read(filename, start, span)
            for i in members:
                off, length = ranges[i]
                out[i] = data[off - start : off - start + length]

        if len(groups) <= 1 or self.workers <= 1:
            for g in groups:
                one(g)
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(groups))) as pool:
                list(pool.map(one, groups))
        return out

    def _read_cdn(self, where: Location, offset: int, length: int) -> bytes:
        """One Range GET at the location, retried on network errors, 5xx, 429 and short
        bodies with the client's backoff; 403 means expired.

        Raises: LocationExpired, HubError.
        """
        headers = {**where.headers, "Range": f"bytes={offset}-{offset + length - 1}"}
        headers["Accept-Encoding"] = "identity"
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self.counters.cdn += 1
            reason: str
            try:
                response = self._session().get(
                    where.url, headers=headers, follow_redirects=False, timeout=self.timeout
                )
            except httpx2.TransportError as exc:
                reason = f"network error: {exc}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise LocationExpired(f"{where.url}: HTTP {status}", repo_id=self.repo_id)
                if status in (200, 206):
                    data = response.content
                    if status == 200:  # Range ignored: keep the slice
                        data = data[offset : offset + length]
                    if len(data) == length:
                        return bytes(data)
                    reason = f"short read: {len(data)} of {length} bytes"
                elif status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                else:
                    raise HubError(f"CDN read failed: HTTP {status}", repo_id=self.repo_id)
            if attempt >= self.retry.max_attempts:
                raise HubError(f"CDN read failed: {reason}", repo_id=self.repo_id)
            logger.info("%s: CDN read retried (%s)", self.repo_id, reason)
            self._sleep(self.retry.backoff(attempt))


class RangeReads:
    """:meth:`range_reader` for :class:`~kinhub.hub.client.HubClient`, which provides
    the resolve (``_locate``), Range reads on ``/resolve/`` (``read_range``), its session,
    retry policy and sleep."""

    timeout_s: float
    retry: RetryPolicy
    _sleep: Callable[[float], None]
    _session: Callable[[], httpx2.Client]

    def _locate(self, repo_id: str, filename: str, revision: str | None) -> Location:
        raise NotImplementedError

    def read_range(
        self, repo_id: str, filename: str, *, revision: str | None, offset: int, length: int
    ) -> bytes:
        raise NotImplementedError

    def range_reader(self, repo_id: str, *, revision: str | None, workers: int = 8) -> RangeReader:
        """Ranges of the repo's files at ``revision``: each file resolved once on the
        resolver bucket, its ranges read at the (CDN) location it redirects to.

        Raises (from its reads): RepoUnavailableError, HubError.
        """

        def read_hub(filename: str, offset: int, length: int) -> bytes:
            return self.read_range(
                repo_id, filename, revision=revision, offset=offset, length=length
            )

        return RangeReader(
            repo_id,
            resolve=lambda filename: self._locate(repo_id, filename, revision),
            read_hub=read_hub,
            session=self._session,
            timeout=self.timeout_s,
            retry=self.retry,
            sleep=self._sleep,
            workers=workers,
        )
