"""HubClient against the Hub as it really behaves (the emulator's 307s to the resolve
cache, RateLimit headers, 429s with r>0, 504 pages, malformed items, gated repos,
renames): accounting per bucket and coping."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from kinhub.hub.client import HubClient
from kinhub.hub.errors import RepoUnavailableError
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy

from tests.conftest import HubEmulators

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, max_attempts=8)


@pytest.fixture
def hub_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    root = tmp_path / "hub"
    for i in range(30):
        repo = root / "org" / f"m{i:02d}"
        repo.mkdir(parents=True)
        (repo / "README.md").write_text(f"---\nlicense: mit\n---\n# m{i}\n")
        (repo / "config.json").write_text(json.dumps({"model_type": "llama"}))
        hub = {"lastModified": f"2024-01-{i + 1:02d}T00:00:00.000Z"}
        (repo / ".hub.json").write_text(json.dumps(hub))
    (root / "org" / "m05" / ".hub.json").write_text(json.dumps({"gated": "manual"}))
    return root


def client(url: str, **kwargs: object) -> HubClient:
    return HubClient(endpoint=url, retry=FAST, limits=RateLimits.unlimited(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("files", "requests"), [("direct", 2), ("hf_hub_download", 3)])
def test_a_small_file_is_counted_on_the_resolvers_bucket(
    hub_root: Path, files: str, requests: int, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url, files=files)
        assert hub.read_text("org/m01", "README.md", revision="main") == (
            "---\nlicense: mit\n---\n# m1\n"
        )
        assert hub.read_text("org/m01", "nothing.txt", revision="main") is None
        served = emu.stats()["requests"]
    stats = hub.stats()
    # The README costs `requests`; the missing file one 404 on /resolve.
    assert served == {"api": 0, "resolve": requests + 1}
    assert stats["http"] == {"api": 0, "resolve": requests + 1}
    assert stats["calls"]["api"] == 0


def test_a_429_with_requests_remaining_is_not_a_spent_window(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    slept: list[float] = []
    with hub_emulator(hub_root) as emu:
        emu.add_fault(r"^GET /api/models/org/m02", "429r", times=2)
        hub = HubClient(
            endpoint=emu.url, retry=FAST, limits=RateLimits.for_plan("free"), sleep=slept.append
        )
        model = hub.model_info("org/m02")
        statuses = emu.stats()["statuses"]
    assert model.repo_id == "org/m02" and statuses["429"] == 2
    assert hub.stats()["rate_limited"]["api"] == 2
    # Backed off briefly, never for the window's reset (t=290 in the header).
    assert len(slept) == 2 and max(slept) < 1
    assert hub.limits.api.waited_s == 0


def test_a_spent_window_pauses_the_bucket_for_its_reset(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root) as emu:
        emu.add_fault(r"^GET /api/models/org/m03", "429")  # r=0;t=0
        hub = client(emu.url)
        assert hub.model_info("org/m03").repo_id == "org/m03"
    assert hub.stats()["rate_limited"]["api"] == 1
    assert hub.limits.api.waited_s > 0  # the bucket paused (base delay, as t=0)


def test_a_timed_out_listing_page_is_fetched_smaller(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root, heavy_page_limit=12) as emu:
        hub = client(emu.url)
        url: str | None = hub.listing_url(page_size=40)
        ids: list[str] = []
        limits = []
        while url is not None:
            page = hub.list_page(url)
            limits.append(int(httpx2.URL(page.url).params["limit"]))
            ids += [m.repo_id for m in page.models]
            url = page.next_url
        statuses = emu.stats()["statuses"]
    assert sorted(ids) == [f"org/m{i:02d}" for i in range(30)]
    assert limits == [10, 10, 10]  # 40 → 20 → 10, and the next links keep 10
    assert statuses["504"] == 2 and hub.stats()["page_shrinks"] == 2
    assert hub.listing_url(page_size=1000).count("limit=10") == 1  # remembered


def test_a_malformed_item_does_not_abort_its_page(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    (hub_root / "org" / "m07" / ".hub.json").write_text(
        json.dumps({"listingOverrides": {"siblings": [{"name": "README.md"}]}})
    )
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url)
        page = hub.list_page(hub.listing_url(page_size=100))
        info = hub.model_info("org/m07")
    assert len(page.models) == 29 and "org/m07" not in {m.repo_id for m in page.models}
    assert [m.repo_id for m in page.malformed] == ["org/m07"]
    assert "KeyError" in page.malformed[0].error
    assert info.files is not None and "README.md" in info.files
    assert hub.stats()["malformed_items"] == 1


def test_gated_is_gated_anonymous_or_logged_in(hub_root: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(hub_root) as emu:
        anonymous = client(emu.url, token=False)
        logged_in = client(emu.url, token="hf_not_a_real_token")
        assert anonymous.anonymous and not logged_in.anonymous
        for hub in (anonymous, logged_in):
            with pytest.raises(RepoUnavailableError) as err:
                hub.read_text("org/m05", "README.md", revision="main")
            assert err.value.status == "gated"
        statuses = emu.stats()["statuses"]
    assert (statuses["401"], statuses["403"]) == (1, 1)


def test_a_renamed_repo_answers_under_its_new_name(
    hub_root: Path, hub_emulator: HubEmulators
) -> None:
    (hub_root / ".renames.json").write_text(json.dumps({"org/old-name": "org/m09"}))
    with hub_emulator(hub_root) as emu:
        hub = client(emu.url)
        model = hub.model_info("org/old-name")
        text = hub.read_text("org/old-name", "README.md", revision=model.sha)
    assert model.repo_id == "org/m09"
    assert text is not None and "# m9" in text
