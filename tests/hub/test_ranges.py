"""Range reads that resolve each file once and read at the CDN location it redirects
to (``hub.ranges``), against the emulator's CDN hop over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
import pytest
from kinhub.hub.client import HubClient
from kinhub.hub.ranges import coalesce
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy

from tests.conftest import HubEmulators

BLOB = bytes(range(256)) * 1024  # 256 KiB of known content
FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, max_attempts=6)


@pytest.fixture
def hub_root(tmp_path: Path) -> Path:
    repo = tmp_path / "hub" / "org" / "repo"
    repo.mkdir(parents=True)
    (repo / "model.safetensors").write_bytes(BLOB)  # LFS: resolves to the CDN
    (repo / "notes.txt").write_text("small file\n")  # not LFS: served by the resolve
    return tmp_path / "hub"


def client(url: str) -> HubClient:
    return HubClient(endpoint=url, retry=FAST, limits=RateLimits.unlimited())


def test_a_file_is_resolved_once_and_its_ranges_read_at_the_cdn(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        reader = client(emu.url).range_reader("org/repo", revision="main")
        assert reader.size("model.safetensors") == len(BLOB)
        for offset in range(0, len(BLOB), 16 * 1024):
            assert reader.read("model.safetensors", offset, 100) == BLOB[offset : offset + 100]
        served = emu.stats()
    assert served["requests"]["resolve"] == 1  # one resolve for 16 reads
    assert served["requests"]["cdn"] == 16
    assert served["bytes"]["cdn"] == 1600
    assert reader.counters.resolver == 1 and reader.counters.cdn == 16
    assert reader.counters.bytes == 1600 and reader.counters.reresolves == 0


def test_the_location_is_signed_and_expires(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu:
        head = httpx2.head(f"{emu.url}/org/repo/resolve/main/model.safetensors")
        assert head.status_code == 302 and head.headers["X-Linked-Size"] == str(len(BLOB))
        url = f"{emu.url}{head.headers['Location']}"
        ok = httpx2.get(url, headers={"Range": "bytes=10-19"})
        assert ok.status_code == 206 and ok.content == BLOB[10:20]
        assert "RateLimit" not in ok.headers  # the CDN is on no Hub quota
        forged = httpx2.get(url.replace("Signature=", "Signature=0"))
        assert forged.status_code == 403
        emu.app.clock = lambda: time.time() + 7200
        assert httpx2.get(url, headers={"Range": "bytes=10-19"}).status_code == 403


def test_an_expired_location_is_resolved_again_once(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        reader = client(emu.url).range_reader("org/repo", revision="main")
        assert reader.read("model.safetensors", 0, 8) == BLOB[:8]
        emu.app.clock = lambda: time.time() + 7200  # an hour and more later
        for offset in (100, 200, 300):
            assert reader.read("model.safetensors", offset, 8) == BLOB[offset : offset + 8]
        served = emu.stats()
    assert served["requests"]["resolve"] == 2  # the first resolve and one after expiry
    assert reader.counters.reresolves == 1
    assert served["statuses"]["403"] == 1


def test_neighbouring_ranges_share_one_request(hub_root: Path, hub_emulator: HubEmulators) -> None:
    ranges = [(0, 64), (128, 64), (1000, 10), (200_000, 64), (200_100, 28)]
    with hub_emulator(hub_root) as emu:
        reader = client(emu.url).range_reader("org/repo", revision="main")
        got = reader.read_many("model.safetensors", ranges)
        served = emu.stats()
    assert got == [BLOB[o : o + n] for o, n in ranges]
    assert served["requests"]["cdn"] == 2 and served["requests"]["resolve"] == 1


def test_coalesce_groups_by_gap() -> None:
    groups = coalesce([(5000, 10), (0, 10), (20, 10), (10_000, 5)], max_gap=4096)
    assert groups == [(0, 30, [1, 2]), (5000, 10, [0]), (10_000, 5, [3])]
    assert coalesce([(0, 100), (50, 10)], max_gap=0) == [(0, 100, [0, 1])]


def test_cdn_faults_are_retried_off_the_quota(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu:
        emu.add_fault(r"^GET /cdn-lfs/", "503")
        emu.add_fault(r"^GET /cdn-lfs/", "reset")
        reader = client(emu.url).range_reader("org/repo", revision="main")
        assert reader.read("model.safetensors", 4096, 512) == BLOB[4096:4608]
        served = emu.stats()
    assert served["requests"]["resolve"] == 1 and reader.counters.cdn == 3


def test_a_file_the_resolve_serves_is_read_there(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url)
        reader = hub.range_reader("org/repo", revision="main")
        assert reader.read("notes.txt", 0, 5) == b"small"
        served = emu.stats()
    assert served["requests"].get("cdn", 0) == 0
    assert reader.counters.cdn == 0 and reader.counters.resolver >= 2
