"""HubClient against the emulator: Range reads, sizes, faults, 429s, typed errors,
configuration read at call time, and an unreachable Hub that says it is retrying."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from kinhub.hub import config
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy
from kinhub.hub.shared import shared_client

from tests.conftest import HubEmulators

BLOB = bytes(range(256)) * 64  # 16 KiB of known content
FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, max_attempts=8)


@pytest.fixture
def hub_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    repo = tmp_path / "hub" / "org" / "repo"
    repo.mkdir(parents=True)
    (repo / "data.bin").write_bytes(BLOB)
    (repo / "README.md").write_text("# hello\n")
    return tmp_path / "hub"


def client(url: str, *, retry: RetryPolicy = FAST) -> HubClient:
    return HubClient(endpoint=url, retry=retry, limits=RateLimits.unlimited())


def test_range_reads_and_sizes(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url)
        assert hub.file_size("org/repo", "data.bin", revision="main") == len(BLOB)
        assert (
            hub.read_range("org/repo", "data.bin", revision="main", offset=1000, length=300)
            == (BLOB[1000:1300])
        )
        assert hub.read_range("org/repo", "data.bin", revision="main", offset=0, length=0) == b""
        served = emu.stats()
    assert hub.stats()["calls"] == {"api": 0, "resolve": 2}
    assert served["bytes"]["resolve"] < 400  # the range, not the file


def test_range_reads_survive_faults(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root, fail_rate=0.4, seed=11) as emu:
        hub = client(emu.url)
        for offset in range(0, len(BLOB), 1024):
            got = hub.read_range("org/repo", "data.bin", revision="main", offset=offset, length=999)
            assert got == BLOB[offset : offset + 999]
        faults = emu.stats()["faults"]
    assert hub.stats()["retries"]["resolve"] > 0
    assert {"500", "503", "reset"} & set(faults)


def test_range_reads_pause_when_the_headers_say_the_window_is_spent(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root, rate_limit=3, rate_window_s=1.0) as emu:
        hub = client(emu.url)
        for offset in range(8):
            got = hub.read_range("org/repo", "data.bin", revision="main", offset=offset, length=5)
            assert got == BLOB[offset : offset + 5]
        statuses = emu.stats()["statuses"]
    # The answer that says r=0 pauses the bucket until its reset: no request is refused.
    assert statuses.get("429", 0) == 0 and statuses["206"] == 8
    assert hub.limits.resolve.waited_s > 0


def test_range_reads_wait_out_429(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root, rate_limit=3, rate_window_s=1.0) as emu:
        hub = client(emu.url)
        # Another client spends the window: the first answer this one sees is a 429.
        for _ in range(3):
            urllib.request.urlopen(f"{emu.url}/org/repo/resolve/main/data.bin").close()
        got = hub.read_range("org/repo", "data.bin", revision="main", offset=0, length=5)
        statuses = emu.stats()["statuses"]
    assert got == BLOB[:5]
    assert statuses.get("429", 0) > 0
    assert hub.stats()["rate_limited"]["resolve"] == statuses["429"]


def test_missing_repo_and_file_are_typed(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url)
        with pytest.raises(RepoUnavailableError) as repo:
            hub.read_range("org/nope", "data.bin", revision="main", offset=0, length=4)
        with pytest.raises(RepoUnavailableError) as file:
            hub.file_size("org/repo", "nope.bin", revision="main")
        with pytest.raises(RepoUnavailableError) as info:
            hub.model_info("org/nope", revision="main")
    assert repo.value.status == file.value.status == info.value.status == "not_found"
    assert "nope.bin" in str(file.value)
    assert hub.stats()["retries"]["resolve"] == 0  # a 404 is final, not retried


def test_retries_exhausted_is_a_hub_error(hub_root: Path) -> None:
    hub = client("http://127.0.0.1:9", retry=RetryPolicy(base_delay_s=0.0, max_attempts=2))
    with pytest.raises(HubError, match=r"cannot reach http://127\.0\.0\.1:9") as info:
        hub.read_range("org/repo", "data.bin", revision="main", offset=0, length=4)
    assert not isinstance(info.value, RepoUnavailableError)


def test_configuration_is_read_at_call_time(
    hub_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        monkeypatch.setenv("HF_ENDPOINT", emu.url + "/")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "later_home"))
        assert config.endpoint() == emu.url
        assert config.cache_dir() == tmp_path / "later_home" / "hub"
        hub = HubClient(retry=FAST)
        assert hub.endpoint == emu.url and shared_client() is shared_client(emu.url)
        assert hub.read_text("org/repo", "README.md", revision="main") == "# hello\n"
        # Downloads into the cache (hf_hub_download) find it through HF_HOME, read now.
        cached_client = HubClient(retry=FAST, files="hf_hub_download")
        assert cached_client.read_text("org/repo", "README.md", revision="main") == "# hello\n"
    cached = list((tmp_path / "later_home" / "hub").rglob("README.md"))
    assert len(cached) == 1
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert config.cache_dir() == tmp_path / "elsewhere"


def test_unreachable_hub_warns_once_that_it_is_retrying(tmp_path: Path) -> None:
    """``kinhub crawl`` offline: at default verbosity stderr says it is retrying and why."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_ENDPOINT", None)
    db = f"sqlite:///{tmp_path / 'k.db'}"
    command = [sys.executable, "-m", "kinhub.cli", "--db", db, "crawl", "-q"]
    command += ["--endpoint", "http://127.0.0.1:9", "--retry-base-delay", "0.01"]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot reach http://127.0.0.1:9" in result.stderr
    assert "retrying (retry 1 of 5" in result.stderr
    assert result.stderr.count("retrying") == 1, result.stderr  # the first retry, not each
    assert "Traceback" not in result.stderr
