"""Fixtures: small hand-built snapshots and a client environment isolated in tmp_path."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

from huggingface_hub import constants
from kinhub.sandbox.emulator import HubEmulator

from tests.conftest import HubEmulators

MERGE_CARD = """---
base_model:
- org-a/ft-one
- org-a/ft-two
library_name: transformers
tags:
- mergekit
- merge
---
# merged

A merge.
"""


@pytest.fixture(autouse=True)
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cache and telemetry settings read by huggingface_hub at call time."""
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    # The client read these at import time; other test modules may have imported it first.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    return home


def write_repo(
    root: Path, repo_id: str, files: dict[str, str | bytes], hub: dict | None = None
) -> Path:
    repo = root / repo_id
    repo.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if hub is not None:
        (repo / ".hub.json").write_text(json.dumps(hub))
    return repo


def config_json() -> str:
    return json.dumps(
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 8,
            "num_hidden_layers": 2,
            "vocab_size": 16,
        }
    )


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A dozen repos covering every kind of repo the emulator has to serve."""
    root = tmp_path / "hub"
    rng = np.random.default_rng(0)
    base = write_repo(
        root,
        "org-a/base",
        {"README.md": "---\nlicense: mit\n---\n# base\n", "config.json": config_json()},
        {"lastModified": "2024-01-01T00:00:00.000Z", "createdAt": "2023-12-01T00:00:00Z",
         "downloads": 500, "likes": 9},
    )  # fmt: skip
    save_file(
        {"embed": rng.normal(size=(16, 8)).astype(np.float32), "norm": np.ones(8, np.float16)},
        str(base / "model.safetensors"),
    )
    for i, name in enumerate(("ft-one", "ft-two")):
        write_repo(
            root,
            f"org-a/{name}",
            {
                "README.md": f"---\nbase_model: org-a/base\n---\n# {name}\n",
                "config.json": config_json(),
            },
            {
                "lastModified": f"2024-02-0{i + 1}T00:00:00.000Z",
                "downloads": 10 * (i + 1),
                "likes": i,
            },
        )
    merged = write_repo(
        root,
        "org-b/merged",
        {
            "README.md": MERGE_CARD,
            "mergekit_config.yml": "merge_method: linear\n",
            "config.json": config_json(),
        },
        {"lastModified": "2024-03-01T00:00:00.000Z", "downloads": 7, "likes": 30},
    )
    shards = {
        "model-00001-of-00002.safetensors": {"a": rng.normal(size=(4, 4)).astype(np.float32)},
        "model-00002-of-00002.safetensors": {"b": rng.normal(size=(2, 3)).astype(np.float32)},
    }
    weight_map = {}
    for shard, tensors in shards.items():
        save_file(tensors, str(merged / shard))
        weight_map.update(dict.fromkeys(tensors, shard))
    index = {"metadata": {"total_size": 88, "mergekit_version": "0.1.5"}, "weight_map": weight_map}
    (merged / "model.safetensors.index.json").write_text(json.dumps(index))
    write_repo(
        root,
        "org-b/gated",
        {"README.md": "---\nbase_model: org-a/base\n---\n", "config.json": config_json()},
        {"gated": "manual", "lastModified": "2024-04-01T00:00:00.000Z"},
    )
    write_repo(root, "org-b/secret", {"config.json": config_json()}, {"private": True})
    write_repo(
        root,
        "org-c/broken",
        {"README.md": "---\nbase_model: [org-a/base\ntags: {x\n---\n# broken\n"},
        {"lastModified": "2024-05-01T00:00:00.000Z"},
    )
    write_repo(
        root,
        "org-c/unclosed",
        {"README.md": "---\nbase_model: org-a/base\n# never closed\n"},
        {"lastModified": "2023-05-01T00:00:00.000Z"},
    )
    write_repo(
        root,
        "org-c/adapter",
        {
            "README.md": "---\nbase_model: org-a/base\nlibrary_name: peft\n---\n",
            "adapter_config.json": "{}",
        },
    )
    write_repo(
        root,
        "org-c/nested",
        {"README.md": "# no front matter\n", "sub/dir/data.txt": "x" * 5000, "sub/top.txt": "t"},
    )
    big = bytes(range(256)) * 40  # 10,240 bytes of known content
    write_repo(root, "org-c/blob", {"data.bin": big, "notes.txt": "hello"})
    (root / ".manifest.json").write_text("{}")  # dotfiles at the root are not repos
    return root


@pytest.fixture
def emu(snapshot: Path, hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with hub_emulator(snapshot, page_size=4) as server:
        yield server
