"""Listing pages of ``/api/models``: what a listing asks for, the first page's URL,
smaller pages after a timeout, reading a page item by item, and the client's listing
methods (:class:`Listings`).

A listing page that times out (504, or no answer in time) is fetched again at half
the size, and later first pages start at the size that worked.  An item the client
cannot read becomes a :class:`MalformedItem` instead of failing the page.  Pages are
fetched with the client's own HTTP session and ``ModelInfo`` constructor rather than
``HfApi.list_models``: that generator hides the next-page link, and the crawler must
checkpoint it to resume a listing after a crash.  The one request per page is sent
by ``hub.client``; everything else about listings is here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx2
from kinhub.hub.accounting import Accounting
from kinhub.hub.errors import HubError
from kinhub.hub.models import HubModel, ListingPage, MalformedItem

logger = logging.getLogger(__name__)

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
MIN_PAGE_SIZE = 10

T = TypeVar("T")


class PageTimedOut(Exception):
    """A listing page the Hub gave up on (504 or no answer): fetch it smaller."""


def first_page_url(
    *,
    endpoint: str,
    filters: Sequence[str],
    sort: str,
    expand: Sequence[str],
    page_size: int,
) -> str:
    """The absolute URL of a listing's first page on ``endpoint``."""
    params: list[tuple[str, str]] = [("filter", f) for f in filters]
    params += [("sort", sort), ("limit", str(page_size))]
    params += [("expand", e) for e in expand]
    return str(httpx2.URL(f"{endpoint}/api/models", params=params))


def smaller_page(url: str) -> str | None:
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


def fetch_shrinking(url: str, fetch: Callable[[str], T], *, on_shrink: Callable[[int], None]) -> T:
    """``fetch(url)``; each time it raises :class:`PageTimedOut`, again at once with
    the page halved (``on_shrink`` gets the new size).

    Raises:
        HubError: the page timed out even at ``MIN_PAGE_SIZE``.
    """
    while True:
        try:
            return fetch(url)
        except PageTimedOut as timed_out:
            smaller = smaller_page(url)
            if smaller is None:
                raise HubError(f"list models: {timed_out} even at the smallest page") from None
            limit = int(httpx2.URL(smaller).params["limit"])
            on_shrink(limit)
            logger.warning("list models: %s; asking again for %d items per page", timed_out, limit)
            url = smaller


def read_items(
    items: object, *, read: Callable[[dict[str, Any]], HubModel]
) -> tuple[list[HubModel], list[MalformedItem]]:
    """The models of a page's JSON (``read`` turns one object into a model), and the
    items it could not read, each logged with its id and why.

    Raises:
        ValueError: the page is not a JSON array (the whole answer is unusable).
    """
    if not isinstance(items, list):
        raise ValueError("listing answer is not a JSON array")
    models: list[HubModel] = []
    malformed: list[MalformedItem] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise TypeError(f"item is a {type(item).__name__}, not an object")
            models.append(read(item))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            repo_id = item.get("id") if isinstance(item, dict) else None
            reason = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("listing item %r cannot be read (%s)", repo_id, reason)
            malformed.append(
                MalformedItem(repo_id=repo_id if isinstance(repo_id, str) else None, error=reason)
            )
    return models, malformed


class Listings:
    """The listing methods of :class:`~kinhub.hub.client.HubClient`, which fetches
    each page (:meth:`_get_page`)."""

    endpoint: str
    expand: tuple[str, ...]
    _accounting: Accounting

    def _get_page(self, url: str) -> ListingPage:
        """One page, as one API call with the client's retries; raises
        :class:`PageTimedOut` when the Hub gave up on a page that can get smaller."""
        raise NotImplementedError

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
        if self._accounting.page_limit is not None:
            page_size = min(page_size, self._accounting.page_limit)
        return first_page_url(
            endpoint=self.endpoint, filters=filters, sort=sort, expand=expand, page_size=page_size
        )

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
        return fetch_shrinking(url, self._get_page, on_shrink=self._accounting.count_page_shrink)
