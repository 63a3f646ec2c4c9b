"""The synthetic hub generator, served by the emulator and read by the real client."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi
from kinhub.sandbox.hub import FOUNDATIONS, MANIFEST_NAME, HubManifest, generate_hub

from tests.conftest import HubEmulators


def test_small_hub_is_deterministic_and_weightless(tmp_path: Path) -> None:
    a = generate_hub(tmp_path / "a", n_models=40, seed=5, weights=False)
    b = generate_hub(tmp_path / "b", n_models=40, seed=5, weights=False)
    assert [r.id for r in a.repos.values()] == [r.id for r in b.repos.values()]
    assert [r.parents for r in a.repos.values()] == [r.parents for r in b.repos.values()]
    assert len(a.repos) == 40
    assert not list((tmp_path / "a").rglob("*.safetensors"))
    assert HubManifest.load(tmp_path / "a").repos == a.repos
    kinds = {r.kind for r in a.repos.values()}
    assert kinds >= {"foundation", "finetune", "merge", "lazymerge", "moe", "adapter",
                     "quantized", "gated", "missing_parent", "broken_card"}  # fmt: skip
    for entry in a.repos.values():  # every parent is a repo, or declared missing
        assert all(p in a.repos or p in entry.missing_parents for p in entry.parents)
        assert all(p not in a.repos for p in entry.missing_parents)
    assert all(r.parents for r in a.repos.values() if r.kind != "foundation")
    with pytest.raises(ValueError):
        generate_hub(tmp_path / "c", n_models=1)


def test_three_hundred_repo_hub_through_the_client(
    tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    root = tmp_path / "hub"
    manifest = generate_hub(root, n_models=300, seed=1)
    assert (root / MANIFEST_NAME).is_file() and len(manifest.repos) == 300
    repos = manifest.repos
    with hub_emulator(root, page_size=64) as emu:
        api = HfApi(endpoint=emu.url)
        listed = {
            m.id: m
            for m in api.list_models(
                sort="lastModified", expand=["cardData", "tags", "gated", "lastModified"]
            )
        }
        assert set(listed) == set(repos)
        for repo_id, entry in repos.items():
            info = listed[repo_id]
            assert info.last_modified is not None
            assert info.last_modified.strftime("%Y-%m-%dT%H:%M:%S") == entry.last_modified[:19]
            assert (info.gated == "manual") == entry.gated
            if entry.card in ("unclosed", "bad-yaml", "none"):
                assert info.card_data is None
            if entry.kind == "merge":
                assert info.card_data is not None
                assert set(info.card_data.base_model) == set(entry.parents)
                assert {"merge", "mergekit"} <= set(info.tags or [])
            if entry.kind == "lazymerge":
                assert "lazymergekit" in (info.tags or [])
            for missing in entry.missing_parents:
                assert missing not in repos
        # derived merge tags are listable
        merge = next(r for r in repos.values() if r.kind == "merge" and r.base is None)
        parent = merge.parents[0]
        children = {m.id for m in api.list_models(filter=f"base_model:merge:{parent}")}
        assert merge.id in children
        # recipes are the verbatim mergekit_config.yml, also embedded in the card
        rng = random.Random(0)
        for entry in rng.sample([r for r in repos.values() if r.kind == "merge"], 5):
            recipe = (root / entry.id / "mergekit_config.yml").read_text()
            assert yaml.safe_load(recipe)["merge_method"] == entry.method
            assert f"```yaml\n{recipe}\n```" in (root / entry.id / "README.md").read_text()
        moe = next(r for r in repos.values() if r.kind == "moe")
        files = {s.rfilename for s in api.model_info(moe.id).siblings or []}
        assert "mergekit_moe_config.yml" in files and "README.md" not in files
        sharded = next(r for r in repos.values() if r.sharded)
        meta = api.get_safetensors_metadata(sharded.id)
        assert meta.sharded and len(meta.files_metadata) == 2
        index = json.loads((root / sharded.id / "model.safetensors.index.json").read_text())
        assert index["metadata"]["mergekit_version"] == "0.1.5"
        base = api.model_info(FOUNDATIONS[0])
        assert base.safetensors is not None and base.safetensors.total > 0
        assert base.config == {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
