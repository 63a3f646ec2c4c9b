"""The real huggingface_hub client against the emulator: listing, info, errors."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from kinhub.sandbox.emulator import HubEmulator

PUBLIC = {
    "org-a/base",
    "org-a/ft-one",
    "org-a/ft-two",
    "org-b/merged",
    "org-b/gated",
    "org-c/broken",
    "org-c/unclosed",
    "org-c/adapter",
    "org-c/nested",
    "org-c/blob",
}


def get_json(url: str) -> tuple[int, dict[str, str], object]:
    with urllib.request.urlopen(url) as resp:
        return resp.status, dict(resp.headers), json.loads(resp.read())


def test_list_models_paginates_over_every_model_once(emu: HubEmulator) -> None:
    ids = [m.id for m in HfApi(endpoint=emu.url).list_models()]
    assert sorted(ids) == sorted(PUBLIC)  # private repo never listed, dotfiles ignored
    assert len(ids) == len(set(ids))
    # page_size=4 → 3 pages, each one API request
    assert emu.stats()["requests"]["api"] == 3


def test_link_header_is_absolute_and_cursor_stable(emu: HubEmulator) -> None:
    status, headers, page = get_json(f"{emu.url}/api/models?sort=likes&limit=3")
    assert status == 200 and len(page) == 3
    link = headers["Link"]
    assert link.startswith(f"<{emu.url}/api/models?") and link.endswith('>; rel="next"')
    next_url = link[1 : link.index(">")]
    _, _, page2 = get_json(next_url)
    likes = [m["likes"] for m in page + page2]
    assert likes == sorted(likes, reverse=True)
    assert page[0]["id"] == "org-b/merged"


@pytest.mark.parametrize(
    "sort", ["lastModified", "createdAt", "downloads", "likes", "trendingScore"]
)
def test_sorts_descending(emu: HubEmulator, sort: str) -> None:
    api = HfApi(endpoint=emu.url)
    models = list(
        api.list_models(sort=sort, expand=["lastModified", "createdAt", "downloads", "likes"])
    )
    assert {m.id for m in models} == PUBLIC
    key = {"lastModified": "last_modified", "createdAt": "created_at"}.get(sort, sort)
    if sort != "trendingScore":
        values = [getattr(m, key) or 0 for m in models]
        assert values == sorted(values, reverse=True)
    if sort == "lastModified":
        assert models[0].id in {"org-c/nested", "org-c/blob", "org-c/adapter", "org-b/secret"}


def test_filters_author_search_limit(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    assert {m.id for m in api.list_models(author="org-a")} == {
        "org-a/base",
        "org-a/ft-one",
        "org-a/ft-two",
    }
    assert {m.id for m in api.list_models(search="ft-")} == {"org-a/ft-one", "org-a/ft-two"}
    merges = {m.id for m in api.list_models(filter="base_model:merge:org-a/ft-one")}
    assert merges == {"org-b/merged"}
    finetunes = {m.id for m in api.list_models(filter="base_model:finetune:org-a/base")}
    assert finetunes == {"org-a/ft-one", "org-a/ft-two", "org-b/gated"}
    adapters = {m.id for m in api.list_models(filter="base_model:adapter:org-a/base")}
    assert adapters == {"org-c/adapter"}
    both = {m.id for m in api.list_models(filter=["mergekit", "safetensors"])}
    assert both == {"org-b/merged"}
    assert len(list(api.list_models(limit=2))) == 2


def test_expand_returns_only_requested_keys(emu: HubEmulator) -> None:
    _, _, page = get_json(f"{emu.url}/api/models?expand=sha&expand=cardData&author=org-b")
    assert isinstance(page, list) and page
    for item in page:
        assert set(item) <= {"_id", "id", "sha", "cardData"}
        assert {"_id", "id", "sha"} <= set(item)
    merged = next(i for i in page if i["id"] == "org-b/merged")
    assert merged["cardData"]["base_model"] == ["org-a/ft-one", "org-a/ft-two"]
    api = HfApi(endpoint=emu.url)
    models = list(api.list_models(author="org-b", expand=["tags", "gated"]))
    gated = next(m for m in models if m.id == "org-b/gated")
    assert gated.gated == "manual" and gated.sha is None and gated.downloads is None
    assert "base_model:finetune:org-a/base" in (gated.tags or [])


def test_full_and_card_data_listing(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    full = {m.id: m for m in api.list_models(author="org-b", full=True)}
    assert full["org-b/merged"].sha and full["org-b/merged"].siblings
    assert {s.rfilename for s in full["org-b/merged"].siblings} >= {
        "README.md",
        "mergekit_config.yml",
    }
    cards = {m.id: m for m in api.list_models(author="org-c", cardData=True)}
    assert cards["org-c/adapter"].card_data is not None
    assert cards["org-c/broken"].card_data is None
    assert cards["org-c/unclosed"].card_data is None


def test_model_info_fields_and_revisions(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    info = api.model_info("org-b/merged")
    assert info.sha and len(info.sha) == 40
    assert info.card_data is not None and info.card_data.base_model == [
        "org-a/ft-one",
        "org-a/ft-two",
    ]
    assert {"merge", "mergekit", "base_model:merge:org-a/ft-two", "transformers"} <= set(info.tags)
    assert info.config == {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    assert info.safetensors is not None and info.safetensors.total == 16 + 6
    assert info.last_modified is not None and info.last_modified.year == 2024
    assert info.likes == 30 and info.downloads == 7 and info.gated is False
    assert api.model_info("org-b/merged", revision=info.sha).sha == info.sha
    assert api.model_info("org-b/merged", revision="main").sha == info.sha
    with pytest.raises(RevisionNotFoundError):
        api.model_info("org-b/merged", revision="0" * 40)


def test_model_info_files_metadata_and_expand(emu: HubEmulator, snapshot: Path) -> None:
    api = HfApi(endpoint=emu.url)
    info = api.model_info("org-a/base", files_metadata=True)
    sizes = {s.rfilename: s for s in info.siblings or []}
    weights = sizes["model.safetensors"]
    assert weights.size == (snapshot / "org-a/base/model.safetensors").stat().st_size
    assert weights.lfs is not None and len(weights.lfs.sha256) == 64
    assert sizes["config.json"].lfs is None and len(sizes["config.json"].blob_id or "") == 40
    assert info.safetensors is not None and info.safetensors.parameters == {"F32": 128, "F16": 8}
    slim = api.model_info("org-a/base", expand=["sha", "safetensors"])
    assert slim.sha == info.sha and slim.tags is None and slim.card_data is None
    assert slim.safetensors is not None and slim.safetensors.total == 136
    bases = api.model_info("org-b/merged", expand=["baseModels"]).base_models
    assert bases == {
        "relation": "merge",
        "models": [{"id": "org-a/ft-one"}, {"id": "org-a/ft-two"}],
    }


def test_missing_private_and_gated_repos(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org-z/nothing")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("org-b/secret")
    info = api.model_info("org-b/gated")  # metadata of gated repos stays visible
    assert info.gated == "manual"


def test_modifying_a_repo_changes_its_sha_and_tags(emu: HubEmulator, snapshot: Path) -> None:
    api = HfApi(endpoint=emu.url)
    before = api.model_info("org-a/ft-one").sha
    listed = {m.id: m.sha for m in api.list_models(expand=["sha"])}
    assert listed["org-a/ft-one"] == before
    readme = snapshot / "org-a/ft-one/README.md"
    readme.write_text("---\nbase_model:\n- org-a/base\n- org-a/ft-two\ntags: [merge]\n---\n")
    os.utime(readme, ns=(1, 10**18))  # a distinct mtime even on coarse-clock file systems
    after = api.model_info("org-a/ft-one")
    assert after.sha != before
    assert "base_model:merge:org-a/ft-two" in after.tags
    relisted = {m.id: m.sha for m in api.list_models(expand=["sha"])}
    assert relisted["org-a/ft-one"] == after.sha
    merges = {m.id for m in api.list_models(filter="base_model:merge:org-a/ft-two")}
    assert merges == {"org-b/merged", "org-a/ft-one"}


def test_refs_and_bad_requests(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    refs = api.list_repo_refs("org-a/base")
    assert refs.branches[0].name == "main"
    assert refs.branches[0].target_commit == api.model_info("org-a/base").sha
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{emu.url}/api/models?sort=bogus")
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{emu.url}/api/models?expand=notAKey")
    assert err.value.code == 400


def test_stats_endpoint_and_reset(emu: HubEmulator) -> None:
    HfApi(endpoint=emu.url).model_info("org-a/base")
    _, _, stats = get_json(f"{emu.url}/_emulator/stats")
    assert stats == emu.stats()
    assert isinstance(stats, dict)
    assert stats["requests"] == {"api": 1, "resolve": 0}
    assert stats["statuses"] == {"200": 1} and stats["bytes"]["api"] > 0
    req = urllib.request.Request(f"{emu.url}/_emulator/reset", method="POST")
    urllib.request.urlopen(req).read()
    assert emu.stats()["requests"] == {"api": 0, "resolve": 0}
    assert emu.stats()["statuses"] == {}
