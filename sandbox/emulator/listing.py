"""``GET /api/models`` semantics: filters, descending sorts, cursors, field selection.

The cursor is opaque to clients (urlsafe base64 of JSON) and names the last
item of the previous page by its sort value and id, so a page boundary stays
put when repos are added or change elsewhere in the order.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kinhub.sandbox.emulator.errors import BadRequestError
from kinhub.sandbox.emulator.repo import RepoMeta

SORT_KEYS = ("createdAt", "downloads", "lastModified", "likes", "trendingScore")
EXPAND_KEYS = frozenset(
    {
        "author",
        "baseModels",
        "cardData",
        "childrenModelCount",
        "config",
        "createdAt",
        "disabled",
        "downloads",
        "downloadsAllTime",
        "evalResults",
        "gated",
        "gguf",
        "inference",
        "inferenceProviderMapping",
        "lastModified",
        "library_name",
        "likes",
        "mask_token",
        "model-index",
        "pipeline_tag",
        "private",
        "resourceGroup",
        "safetensors",
        "sha",
        "siblings",
        "spaces",
        "tags",
        "transformersInfo",
        "trendingScore",
        "usedStorage",
        "widgetData",
    }
)
# What a listing item holds without expand (as the Hub answers).
_LIST_DEFAULT = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
_LIST_FULL = (*_LIST_DEFAULT, "author", "sha", "lastModified", "gated", "disabled", "siblings")
# What model_info holds without expand.
_INFO_DEFAULT = (
    "_id",
    "id",
    "modelId",
    "author",
    "sha",
    "lastModified",
    "private",
    "disabled",
    "gated",
    "downloads",
    "likes",
    "library_name",
    "tags",
    "pipeline_tag",
    "createdAt",
    "cardData",
    "model-index",
    "config",
    "transformersInfo",
    "siblings",
    "spaces",
    "safetensors",
    "usedStorage",
    "widgetData",
)
DEFAULT_MAX_PAGE = 1000
# Listing pages with more items than this and ``config`` expanded time out (504) at the
# Hub's gateway, as a 1,000-item page has been seen to.
HEAVY_PAGE_LIMIT = 500
# A ``.hub.json`` key whose fields replace those of the repo's *listing* items only
# (model_info is unaffected): how tests serve a malformed listing item.
LISTING_OVERRIDES = "listingOverrides"


@dataclass(frozen=True)
class ListQuery:
    """A parsed ``/api/models`` query (everything but the cursor and paging)."""

    filters: tuple[str, ...] = ()
    author: str | None = None
    search: str | None = None
    sort: str | None = None
    gated: bool | None = None
    pipeline_tag: str | None = None


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes")


def parse_query(params: Mapping[str, Sequence[str]]) -> ListQuery:
    """Build a :class:`ListQuery`; raises :class:`BadRequestError` on a bad sort."""

    def one(key: str) -> str | None:
        values = params.get(key)
        return values[-1] if values else None

    sort = one("sort")
    if sort is not None and sort not in SORT_KEYS:
        raise BadRequestError(f"invalid sort {sort!r}; expected one of {', '.join(SORT_KEYS)}")
    gated = one("gated")
    return ListQuery(
        filters=tuple(v for f in params.get("filter", []) for v in f.split(",") if v),
        author=one("author"),
        search=one("search"),
        sort=sort,
        gated=_truthy(gated) if gated is not None else None,
        pipeline_tag=one("pipeline_tag"),
    )


def matches(meta: RepoMeta, query: ListQuery) -> bool:
    """True when a (non-private) repo satisfies every condition of the query."""
    if meta.private:
        return False
    if query.author is not None and meta.id.split("/", 1)[0].lower() != query.author.lower():
        return False
    if query.search is not None and query.search.lower() not in meta.id.lower():
        return False
    tags = meta.fields.get("tags") or []
    if any(f not in tags and f != meta.id for f in query.filters):
        return False
    if query.gated is not None and bool(meta.gated) != query.gated:
        return False
    return query.pipeline_tag is None or meta.fields.get("pipeline_tag") == query.pipeline_tag


def order_key(meta: RepoMeta, sort: str | None) -> tuple[Any, ...]:
    """Ascending key whose order is the listing order (descending sort value, then id)."""
    if sort is None:
        return (meta.id,)
    value = meta.sort_value(sort)
    if isinstance(value, str):
        # Descending on strings: invert every code point (the Hub's dates are ASCII).
        return (tuple(-ord(c) for c in value), meta.id)
    return (-value, meta.id)


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    """Inverse of :func:`encode_cursor`; raises :class:`BadRequestError` on garbage."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError("invalid cursor") from exc
    if not isinstance(value, list):
        raise BadRequestError("invalid cursor")
    return tuple(tuple(v) if isinstance(v, list) else v for v in value)


class SortedIndex:
    """All repos ordered for one sort key, rebuilt when the store's generation moves."""

    def __init__(self, metas: list[RepoMeta], sort: str | None, generation: int) -> None:
        self.generation = generation
        self.sort = sort
        pairs = sorted(((order_key(m, sort), m) for m in metas), key=lambda p: p[0])
        self.keys = [p[0] for p in pairs]
        self.metas = [p[1] for p in pairs]

    def page(
        self, query: ListQuery, *, after: tuple[Any, ...] | None, size: int
    ) -> tuple[list[RepoMeta], tuple[Any, ...] | None]:
        """Up to ``size`` matching repos after ``after``; plus the next cursor key or None."""
        start = bisect.bisect_right(self.keys, after) if after is not None else 0
        out: list[RepoMeta] = []
        for i in range(start, len(self.metas)):
            meta = self.metas[i]
            if not matches(meta, query):
                continue
            if len(out) == size:
                return out, order_key(out[-1], self.sort)
            out.append(meta)
        return out, None


def siblings(meta: RepoMeta, *, blobs: bool) -> list[dict[str, Any]]:
    """The ``siblings`` field: names only, or with size/blobId/lfs when ``blobs``."""
    out: list[dict[str, Any]] = []
    for f in meta.files.values():
        item: dict[str, Any] = {"rfilename": f.path}
        if blobs:
            item["size"] = f.size
            item["blobId"] = f.hashes().oid
            if f.lfs:
                item["lfs"] = f.lfs_info()
        out.append(item)
    return out


def project(
    meta: RepoMeta,
    *,
    expand: Sequence[str] = (),
    listing: bool,
    full: bool = False,
    card_data: bool = False,
    config: bool = False,
    blobs: bool = False,
) -> dict[str, Any]:
    """The JSON object for one repo: ``_id``/``id`` + expanded keys, or the default set.

    Raises:
        BadRequestError: an ``expand`` value the Hub does not know.
    """
    unknown = [k for k in expand if k not in EXPAND_KEYS]
    if unknown:
        raise BadRequestError(f"invalid expand value(s): {', '.join(unknown)}")
    if expand:
        keys: tuple[str, ...] = ("_id", "id", *dict.fromkeys(expand))
    elif listing:
        keys = _LIST_FULL if full else _LIST_DEFAULT
        if card_data or full:
            keys = (*keys, "cardData")
        if config:
            keys = (*keys, "config")
    else:
        keys = _INFO_DEFAULT
    out: dict[str, Any] = {}
    overrides = meta.fields.get(LISTING_OVERRIDES) if listing else None
    for key in keys:
        if isinstance(overrides, dict) and key in overrides:
            out[key] = overrides[key]
            continue
        if key == "siblings":
            out[key] = siblings(meta, blobs=blobs)
            continue
        value = meta.fields.get(key)
        if value is None and key not in ("_id", "id"):
            continue
        out[key] = value
    return out
