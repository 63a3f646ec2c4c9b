"""Listing pages without the Hub: first-page URLs, halving a page after a timeout,
and reading a page whose items may be hostile."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from huggingface_hub.hf_api import ModelInfo
from kinhub.hub import listing
from kinhub.hub.errors import HubError
from kinhub.hub.models import HubModel


def read(item: dict[str, Any]) -> HubModel:
    """What the client does with an item: the client's constructor, then ours."""
    return HubModel.from_info(ModelInfo(**item))


def test_first_page_url_repeats_keys_as_the_hub_expects() -> None:
    url = listing.first_page_url(
        endpoint="http://127.0.0.1:8/hub",
        filters=["merge", "base_model:org/x"],
        sort="lastModified",
        expand=listing.LISTING_EXPAND,
        page_size=300,
    )
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("127.0.0.1:8", "/hub/api/models")
    params = parse_qsl(parts.query)
    assert [v for k, v in params if k == "filter"] == ["merge", "base_model:org/x"]
    assert [v for k, v in params if k == "expand"] == list(listing.LISTING_EXPAND)
    assert ("sort", "lastModified") in params and ("limit", "300") in params


def test_the_legacy_fields_are_todays_plus_card_data_and_private() -> None:
    legacy = listing.LEGACY_LISTING_EXPAND
    assert set(legacy) == set(listing.LISTING_EXPAND) | {"cardData", "private"}
    assert len(legacy) == len(set(legacy))


def test_a_page_halves_down_to_the_smallest_size_and_keeps_its_other_parameters() -> None:
    url = listing.first_page_url(
        endpoint="http://h", filters=["merge"], sort="lastModified", expand=["sha"], page_size=1000
    )
    sizes = [1000]
    while (smaller := listing.smaller_page(url)) is not None:
        old, new = dict(parse_qsl(urlsplit(url).query)), dict(parse_qsl(urlsplit(smaller).query))
        assert int(new["limit"]) == max(listing.MIN_PAGE_SIZE, int(old["limit"]) // 2)
        assert {k: v for k, v in new.items() if k != "limit"} == {
            k: v for k, v in old.items() if k != "limit"
        }
        sizes.append(int(new["limit"]))
        url = smaller
    assert sizes[-1] == listing.MIN_PAGE_SIZE and sizes == sorted(sizes, reverse=True)
    assert listing.smaller_page("http://h/api/models?sort=x") is None
    assert listing.smaller_page("http://h/api/models?limit=lots") is None


def test_fetch_shrinking_asks_again_smaller_until_the_hub_answers() -> None:
    asked: list[str] = []
    shrunk: list[int] = []

    def fetch(url: str) -> str:
        asked.append(url)
        if int(dict(parse_qsl(urlsplit(url).query))["limit"]) > 250:
            raise listing.PageTimedOut("HTTP 504")
        return url

    first = "http://h/api/models?limit=1000"
    got = listing.fetch_shrinking(first, fetch, on_shrink=shrunk.append)
    assert shrunk == [500, 250] and got == asked[-1] and asked[0] == first
    assert dict(parse_qsl(urlsplit(got).query))["limit"] == "250"

    def never(url: str) -> str:
        raise listing.PageTimedOut("no answer within 30s")

    with pytest.raises(HubError, match="no answer within 30s even at the smallest page"):
        listing.fetch_shrinking(first, never, on_shrink=shrunk.append)
    assert shrunk[-1] == listing.MIN_PAGE_SIZE


def test_unreadable_items_are_set_aside_and_the_rest_read() -> None:
    good = {"id": "org/good", "sha": "a" * 40, "tags": ["merge"]}
    items: list[Any] = [
        good,
        ["not", "an", "object"],
        {"_id": "no-id"},
        {"id": "org/bad-date", "lastModified": "yesterday\0"},
        {"id": 12, "siblings": [{"size": 1}]},
    ]
    models, malformed = listing.read_items(items, read=read)
    assert [m.repo_id for m in models] == ["org/good"]
    assert [m.repo_id for m in malformed] == [None, None, "org/bad-date", None]
    assert malformed[0].error.startswith("TypeError: item is a list")
    assert malformed[1].error.startswith("KeyError")
    assert all(len(m.error) <= 300 for m in malformed)
    with pytest.raises(ValueError, match="not a JSON array"):
        listing.read_items({"id": "org/good"}, read=read)
