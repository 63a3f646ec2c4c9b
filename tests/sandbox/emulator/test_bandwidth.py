"""The emulator's bandwidth cap: file bodies go out no faster than asked, intact."""

from __future__ import annotations

import time
import urllib.request

from tests.conftest import HubEmulators


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, float]:
    request = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return body, time.perf_counter() - t0


def test_file_bodies_are_sent_no_faster_than_the_cap(hub_emulator: HubEmulators) -> None:
    data = bytes(range(256)) * 4000  # 1,024,000 bytes
    with hub_emulator({"org/big": {"weights.bin": data}}, bandwidth_bps=2_000_000) as emu:
        url = f"{emu.url}/org/big/resolve/main/weights.bin"
        body, seconds = _get(url)
        part, part_seconds = _get(url, {"Range": "bytes=0-99999"})
    assert body == data and part == data[:100_000]
    # A lower bound only: sleeping is what the cap does, so this cannot flake fast.
    assert seconds >= len(data) / 2_000_000 * 0.9
    assert part_seconds >= 100_000 / 2_000_000 * 0.9


def test_no_cap_by_default(hub_emulator: HubEmulators) -> None:
    with hub_emulator({"org/small": {"a.txt": "x"}}) as emu:
        assert emu.app.bandwidth_bps is None
