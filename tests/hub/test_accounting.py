"""What a client counts from the answers it sees, and how ``RateLimit`` headers (read
by ``huggingface_hub``'s own parser) decide waits and pauses."""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub.utils import parse_ratelimit_headers
from kinhub.hub.accounting import Accounting
from kinhub.hub.ratelimit import API, RESOLVE, RateLimits, server_wait, spent_window

from tests.hub.test_ratelimit import FakeTime


def ratelimit(value: str) -> httpx2.Headers:
    return httpx2.Headers({"RateLimit": value, "RateLimit-Policy": '"fixed window";q=500;w=300'})


def test_a_spent_window_waits_its_reset_for_the_whole_bucket() -> None:
    spent = parse_ratelimit_headers(ratelimit('"api";r=0;t=55'))
    assert server_wait(spent, retry_after="") == (55.0, True)
    assert spent_window(spent) == (API, 55.0)
    resolvers = parse_ratelimit_headers(ratelimit('"resolvers";r=0;t=7'))
    assert spent_window(resolvers) == (RESOLVE, 7.0)


def test_requests_left_in_the_window_mean_no_announced_wait() -> None:
    left = parse_ratelimit_headers(ratelimit('"api";r=12;t=290'))
    assert server_wait(left, retry_after="") == (None, False)
    assert spent_window(left) is None
    # Without a spent window a numeric Retry-After is the wait; anything else is none.
    assert server_wait(left, retry_after="3") == (3.0, True)
    assert server_wait(None, retry_after=" 9 ") == (9.0, True)
    assert server_wait(None, retry_after="Wed, 21 Oct 2015 07:28:00 GMT") == (None, False)
    # The "pages" policy is not one kinhub spends from: it pauses nothing.
    assert spent_window(parse_ratelimit_headers(ratelimit('"pages";r=0;t=30'))) is None


def test_responses_are_counted_by_policy_else_by_path() -> None:
    accounting = Accounting(RateLimits.unlimited())
    # A header names the bucket, whatever the path.
    accounting.observe(
        path="/api/models",
        status=200,
        info=parse_ratelimit_headers(ratelimit('"resolvers";r=9;t=9')),
    )
    for path in ("/org/m/resolve/main/README.md", "/api/resolve-cache/models/org/m/abc/x"):
        accounting.observe(path=path, status=200, info=None)
    accounting.observe(path="/api/models/org/m", status=429, info=None)
    stats = accounting.stats()
    assert stats["http"] == {API: 1, RESOLVE: 3}
    assert stats["rate_limited"] == {API: 1, RESOLVE: 0}
    assert stats["calls"] == {API: 0, RESOLVE: 0}  # responses are not calls


def test_an_answer_saying_the_window_is_spent_pauses_that_bucket() -> None:
    t = FakeTime()
    limits = RateLimits.for_plan(clock=t.clock, sleep=t.sleep)
    accounting = Accounting(limits)
    info = parse_ratelimit_headers(ratelimit('"resolvers";r=0;t=20'))
    accounting.observe(path="/org/m/resolve/main/x", status=200, info=info)
    assert limits.api.acquire() == 0
    assert limits.resolve.acquire() == pytest.approx(20.0)


def test_shrunk_pages_and_other_counts() -> None:
    accounting = Accounting(RateLimits.unlimited())
    assert accounting.first_limit(API) and not accounting.first_limit(API)
    assert accounting.first_limit(RESOLVE)
    accounting.count_page_shrink(500)
    accounting.count_page_shrink(250)
    accounting.count_page_shrink(500)  # a later first page never grows back
    accounting.count_malformed(3)
    accounting.count_file_reused()
    stats = accounting.stats()
    assert accounting.page_limit == 250
    assert (stats["page_shrinks"], stats["retries"][API]) == (3, 3)
    assert (stats["malformed_items"], stats["files_reused"]) == (3, 1)
    assert set(stats) == {
        "calls",
        "http",
        "retries",
        "rate_limited",
        "malformed_items",
        "page_shrinks",
        "files_reused",
        "throttled_s",
    }
