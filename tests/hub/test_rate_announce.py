"""Quotas belong to their endpoint (huggingface.co's plans are not applied to an
emulator or mirror), and a long rate-limit wait is announced at default verbosity
with its reason and length — the client's own quota and the server's alike."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kinhub.hub import ratelimit, retry
from kinhub.hub.client import HubClient
from kinhub.hub.ratelimit import BucketLimiter, Plan, RateLimits
from kinhub.hub.retry import RetryPolicy
from kinhub.pipeline.crawl import CrawlSettings, hub_client

from tests.conftest import HubEmulators

BLOB = bytes(range(256)) * 16


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("kinhub.hub")
    ]


def test_plan_quotas_apply_to_huggingface_co_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert RateLimits.for_hub("https://huggingface.co", "pro").api.quota == 2_500
    assert RateLimits.for_hub("https://hf.co/", None).resolve.quota == 3_000
    assert RateLimits.for_hub(None, Plan.free).api.quota == 1_000  # the default Hub
    local = "http://127.0.0.1:8123"
    assert RateLimits.for_hub(local, "pro").api.quota is None
    assert HubClient(endpoint=local).limits.resolve.quota is None
    assert hub_client(CrawlSettings(endpoint=local, plan=Plan.pro)).limits.api.quota is None
    monkeypatch.setenv("HF_ENDPOINT", local)
    assert hub_client(CrawlSettings(plan=Plan.pro)).limits.api.quota is None


def test_a_long_wait_for_the_clients_quota_is_announced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    limiter = BucketLimiter("api", 1, window_s=300.0, clock=lambda: now[0], sleep=sleep, plan="pro")
    with caplog.at_level(logging.WARNING):
        assert limiter.acquire() == 0
        assert limiter.acquire() == pytest.approx(300.0)
        assert limiter.acquire() == pytest.approx(300.0)
    got = _warnings(caplog)
    assert len(got) == 2, got
    assert "pro plan's quota of 1 api requests per 300s" in got[0]
    assert "waiting 300s" in got[0]


def test_a_long_server_rate_limit_is_announced(
    tmp_path: Path,
    hub_emulator: HubEmulators,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "Long" is 5 s in production; a shorter bar keeps the test quick.
    monkeypatch.setattr(ratelimit, "ANNOUNCE_WAIT_S", 0.5)
    monkeypatch.setattr(retry, "ANNOUNCE_WAIT_S", 0.5)
    repo = tmp_path / "hub" / "org" / "repo"
    repo.mkdir(parents=True)
    (repo / "data.bin").write_bytes(BLOB)
    with hub_emulator(tmp_path / "hub", rate_limit=2, rate_window_s=2.0) as emu:
        hub = HubClient(endpoint=emu.url, retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.05))
        with caplog.at_level(logging.WARNING):
            for offset in range(5):
                got = hub.read_range(
                    "org/repo", "data.bin", revision="main", offset=offset, length=3
                )
                assert got == BLOB[offset : offset + 3]
    announced = [m for m in _warnings(caplog) if "Hub rate limit" in m]
    assert len(announced) >= 2, _warnings(caplog)  # every long wait, not only the first
    assert all("resolve request window is spent" in m and "waiting" in m for m in announced)
