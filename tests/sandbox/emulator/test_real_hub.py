"""The emulator behaves as huggingface.co does where clients notice, seen through the
real ``huggingface_hub`` client (and raw HTTP where the client hides the detail)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError
from huggingface_hub.utils import parse_ratelimit_headers
from kinhub.sandbox.emulator import HubEmulator
from kinhub.sandbox.emulator.repo import object_id

from tests.conftest import HubEmulators


def test_small_file_download_is_three_resolver_requests(emu: HubEmulator) -> None:
    emu.reset_stats()
    path = hf_hub_download("org-a/base", "config.json", endpoint=emu.url)
    assert json.loads(Path(path).read_text())["model_type"] == "llama"
    stats = emu.stats()
    # HEAD /resolve → 307, HEAD /api/resolve-cache → 200, GET there → 200.
    assert stats["requests"] == {"api": 0, "resolve": 3}
    assert stats["statuses"] == {"200": 2, "307": 1}


def test_resolve_redirects_to_the_resolve_cache_at_the_commit(emu: HubEmulator) -> None:
    sha = HfApi(endpoint=emu.url).model_info("org-a/base").sha
    response = httpx2.head(f"{emu.url}/org-a/base/resolve/main/config.json")
    assert response.status_code == 307
    location = response.headers["Location"]
    assert location.startswith(f"/api/resolve-cache/models/org-a/base/{sha}/config.json?")
    assert response.headers["X-Repo-Commit"] == sha
    final = httpx2.get(f"{emu.url}{location}")
    assert final.status_code == 200 and final.headers["X-Repo-Commit"] == sha
    # LFS files: a 302 to a signed, expiring location (the Hub's CDN hop).
    weights = httpx2.head(f"{emu.url}/org-a/base/resolve/main/model.safetensors")
    assert weights.status_code == 302 and "Expires=" in weights.headers["Location"]
    assert weights.headers["Location"].startswith(f"/cdn-lfs/models/org-a/base/{sha}/")


def test_rate_limit_headers_on_every_answer_with_the_hub_policy_names(emu: HubEmulator) -> None:
    answers = {
        "api": httpx2.get(f"{emu.url}/api/models/org-a/base"),
        "resolvers": httpx2.head(f"{emu.url}/org-a/base/resolve/main/config.json"),
        "pages": httpx2.get(f"{emu.url}/org-a/base/tree/main"),
    }
    for policy, response in answers.items():
        info = parse_ratelimit_headers(response.headers)
        assert info is not None and info.resource_type == policy, response.headers
        assert info.window_seconds == 300 and info.remaining > 0
    missing = httpx2.get(f"{emu.url}/api/models/org-z/nothing")
    assert missing.status_code == 404 and "RateLimit" in missing.headers


def test_a_429_can_leave_requests_remaining(snapshot: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(snapshot, rate_quotas={"api": 1000, "resolve": 5000}) as emu:
        emu.add_fault(r"^GET /api/models/org-a/base$", "429r")
        refused = httpx2.get(f"{emu.url}/api/models/org-a/base")
        again = httpx2.get(f"{emu.url}/api/models/org-a/base")
        file = httpx2.head(f"{emu.url}/org-a/base/resolve/main/config.json")
    assert refused.status_code == 429
    info = parse_ratelimit_headers(refused.headers)
    # Not the quota: requests remain, and the reset is the window's, minutes away.
    assert info is not None and info.remaining > 0 and info.reset_in_seconds > 60
    assert info.limit == 1000
    assert again.status_code == 200
    resolvers = parse_ratelimit_headers(file.headers)
    assert resolvers is not None and resolvers.limit == 5000


def test_heavy_listing_pages_time_out(snapshot: Path, hub_emulator: HubEmulators) -> None:
    with hub_emulator(snapshot, heavy_page_limit=3) as emu:
        heavy = httpx2.get(f"{emu.url}/api/models", params={"limit": 10, "expand": "config"})
        small = httpx2.get(f"{emu.url}/api/models", params={"limit": 3, "expand": "config"})
        light = httpx2.get(f"{emu.url}/api/models", params={"limit": 10, "expand": "sha"})
    assert heavy.status_code == 504
    assert small.status_code == 200 and len(small.json()) == 3
    assert light.status_code == 200 and len(light.json()) == 10
    assert 'rel="next"' in small.headers["Link"]


def test_gated_files_anonymous_401_logged_in_403(emu: HubEmulator) -> None:
    with pytest.raises(GatedRepoError) as anonymous:
        hf_hub_download("org-b/gated", "README.md", endpoint=emu.url, token=False)
    assert anonymous.value.response is not None
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as logged_in:
        hf_hub_download("org-b/gated", "README.md", endpoint=emu.url, token="hf_not_a_real_token")
    assert logged_in.value.response is not None
    assert logged_in.value.response.status_code == 403
    # The metadata stays public.
    assert HfApi(endpoint=emu.url).model_info("org-b/gated", token=False).gated == "manual"


def test_renamed_repos_redirect_on_api_and_resolve(emu: HubEmulator, snapshot: Path) -> None:
    (snapshot / ".renames.json").write_text(json.dumps({"org-a/old-name": "org-a/ft-one"}))
    api = HfApi(endpoint=emu.url)
    raw = httpx2.get(f"{emu.url}/api/models/org-a/old-name", params={"expand": "sha"})
    assert raw.status_code == 307
    assert raw.headers["Location"] == "/api/models/org-a/ft-one?expand=sha"
    info = api.model_info("org-a/old-name")
    assert info.id == "org-a/ft-one"
    path = hf_hub_download("org-a/old-name", "README.md", endpoint=emu.url)
    assert "# ft-one" in Path(path).read_text()
    listed = {m.id for m in api.list_models(author="org-a")}
    assert "org-a/old-name" not in listed and "org-a/ft-one" in listed
    # The Hub's object id survives the rename.
    emu.reload()
    raw_item = httpx2.get(f"{emu.url}/api/models/org-a/ft-one", params={"expand": "sha"}).json()
    assert raw_item["_id"] == object_id("org-a/old-name") != object_id("org-a/ft-one")


def test_settings_changes_are_not_commits(emu: HubEmulator, snapshot: Path) -> None:
    api = HfApi(endpoint=emu.url)
    before = api.model_info("org-a/ft-two")
    hub_json = snapshot / "org-a/ft-two/.hub.json"
    settings = json.loads(hub_json.read_text())
    hub_json.write_text(json.dumps({**settings, "likes": 99, "gated": "auto"}))
    os.utime(hub_json, ns=(1, 10**18))
    after = api.model_info("org-a/ft-two")
    assert (after.likes, after.gated) == (99, "auto")
    assert (after.sha, after.last_modified) == (before.sha, before.last_modified)


def test_several_base_models_give_merge_and_plain_tags(emu: HubEmulator) -> None:
    tags = set(HfApi(endpoint=emu.url).model_info("org-b/merged").tags or [])
    for parent in ("org-a/ft-one", "org-a/ft-two"):
        assert {f"base_model:{parent}", f"base_model:merge:{parent}"} <= tags


def test_listing_overrides_serve_a_malformed_item(
    snapshot: Path, hub_emulator: HubEmulators
) -> None:
    hub_json = snapshot / "org-c/blob/.hub.json"
    hub_json.write_text(json.dumps({"listingOverrides": {"siblings": [{"name": "x"}]}}))
    with hub_emulator(snapshot) as emu:
        url = f"{emu.url}/api/models?author=org-c&expand=siblings"
        with urllib.request.urlopen(url) as response:
            items = {i["id"]: i for i in json.loads(response.read())}
        info = HfApi(endpoint=emu.url).model_info("org-c/blob")
    assert items["org-c/blob"]["siblings"] == [{"name": "x"}]
    assert {s.rfilename for s in info.siblings or []} == {"data.bin", "notes.txt"}


def test_unknown_scripted_fault_is_refused(emu: HubEmulator) -> None:
    from kinhub.sandbox.emulator import EmulatorError

    with pytest.raises(EmulatorError):
        emu.add_fault("x", "418")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{emu.url}/api/models/org-z/nothing")
