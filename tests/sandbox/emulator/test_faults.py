"""Rate limits and injected faults, seen by raw HTTP and by the real client."""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from kinhub.sandbox.emulator.faults import FaultInjector, RateLimiter

from tests.conftest import HubEmulators


def test_rate_limit_headers_and_client_error(snapshot: Path, hub_emulator: HubEmulators) -> None:
    # A window long enough that a loaded CI machine still sends the burst inside it.
    with hub_emulator(snapshot, rate_limit=3, rate_window_s=4.0) as emu:
        url = f"{emu.url}/api/models/org-a/base"
        for remaining in (2, 1, 0):
            with urllib.request.urlopen(url) as resp:
                assert resp.headers["RateLimit"].startswith(f'"api";r={remaining};t=')
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url)
        assert err.value.code == 429
        headers = err.value.headers
        match = re.fullmatch(r'"api";r=0;t=(\d+)', headers["RateLimit"])
        assert match is not None and 1 <= int(match[1]) <= 4
        assert headers["RateLimit-Policy"] == '"fixed window";"api";q=3;w=4'
        assert headers["X-Error-Code"] == "RateLimited"
        # the resolve bucket has its own quota
        with urllib.request.urlopen(f"{emu.url}/org-a/base/resolve/main/config.json") as resp:
            assert resp.status == 200
        with pytest.raises(HfHubHTTPError) as hf_err:
            HfApi(endpoint=emu.url).model_info("org-a/base")  # model_info does not retry
        assert hf_err.value.response.status_code == 429
        reset = int(hf_err.value.response.headers["RateLimit"].rsplit("t=", 1)[1])
        time.sleep(reset + 0.1)  # the window ends: requests pass again
        with urllib.request.urlopen(url) as resp:
            assert resp.status == 200
        stats = emu.stats()
        assert stats["statuses"]["429"] == 2
        # The small file's 307 to the resolve cache and the GET there: both resolvers.
        assert stats["requests"] == {"api": 6, "resolve": 2}


def test_rate_limiter_fixed_windows_with_fake_clock() -> None:
    now = [100.0]
    limiter = RateLimiter(2, window_s=300, clock=lambda: now[0])
    assert [limiter.check("api").allowed for _ in range(3)] == [True, True, False]
    assert limiter.check("resolve").allowed
    refused = limiter.check("api")
    assert refused.headers("api") == {
        "RateLimit": '"api";r=0;t=300',
        "RateLimit-Policy": '"fixed window";"api";q=2;w=300',
    }
    now[0] += 120
    assert limiter.check("api").reset_s == 180
    now[0] += 181
    assert limiter.check("api").allowed


def test_fault_injector_is_seeded() -> None:
    a = FaultInjector(0.3, seed=1)
    b = FaultInjector(0.3, seed=1)
    seq_a = [a.draw() for _ in range(200)]
    assert seq_a == [b.draw() for _ in range(200)]
    hits = [f for f in seq_a if f is not None]
    assert 30 <= len(hits) <= 90 and len({f.value for f in hits}) == 5
    assert FaultInjector(0.0).draw() is None


def test_listing_survives_faults(snapshot: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(snapshot, page_size=3, fail_rate=0.3, seed=3) as emu:
        ids = [m.id for m in HfApi(endpoint=emu.url).list_models()]
        stats = emu.stats()
    assert len(ids) == len(set(ids)) == 10
    assert sum(stats["faults"].values()) >= 1
    assert stats["requests"]["api"] == 4 + sum(stats["faults"].values())
    assert "_emulator" not in str(stats)


def test_truncated_bodies_and_resets_are_real(snapshot: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(snapshot, fail_rate=1.0, seed=0) as emu:
        seen = set()
        for _ in range(12):
            try:
                with urllib.request.urlopen(f"{emu.url}/api/models/org-a/base") as resp:
                    resp.read()
                seen.add("ok")
            except urllib.error.HTTPError as err:
                seen.add(str(err.code))
            except (http.client.HTTPException, OSError) as err:  # reset / truncated
                seen.add(type(err).__name__)
        # /_emulator is never faulted
        with urllib.request.urlopen(f"{emu.url}/_emulator/stats") as resp:
            assert resp.status == 200
        faults = emu.stats()["faults"]
    assert "ok" not in seen
    assert sum(faults.values()) == 12
    assert faults.get("truncated", 0) + faults.get("reset", 0) >= 1
