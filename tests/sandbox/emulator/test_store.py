"""Metadata derivation and the repo store, without HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from kinhub.sandbox.emulator import derive
from kinhub.sandbox.emulator.store import INDEX_NAME, RepoStore
from safetensors.numpy import save_file


def test_front_matter_variants() -> None:
    assert derive.parse_front_matter("---\nbase_model: a/b\n---\n# x") == {"base_model": "a/b"}
    assert derive.parse_front_matter("# no front matter\n---\na: 1\n---\n") is None
    assert derive.parse_front_matter("---\na: 1\n# unclosed\n") is None
    assert derive.parse_front_matter("---\na: [1\n---\n") is None
    assert derive.parse_front_matter("---\n- a list\n---\n") is None
    assert derive.parse_front_matter("---\n!!python/object:os.system x\n---\n") is None
    dated = derive.parse_front_matter("---\ndate: 2024-01-02\n1: one\n---\n")
    assert dated == {"date": "2024-01-02", "1": "one"}  # JSON-safe like the Hub's cardData


def test_relation_inference() -> None:
    def relation(card: dict, files: list[str]) -> str | None:
        bases = derive.base_models(card)
        return derive.base_model_relation(card, bases=bases, filenames=files)

    assert relation({"base_model": ["a/b", "c/d"]}, []) == "merge"
    assert relation({"base_model": "a/b"}, ["adapter_config.json"]) == "adapter"
    assert relation({"base_model": "a/b"}, ["m.Q4_K_M.gguf"]) == "quantized"
    assert relation({"base_model": "a/b"}, ["config.json"]) == "finetune"
    assert relation({"base_model": "a/b", "base_model_relation": "quantized"}, []) == "quantized"
    assert relation({"base_model": ["a/b", "c/d"], "base_model_relation": "finetune"}, []) == (
        "finetune"
    )
    assert relation({"base_model": "./local/path"}, []) is None
    tags = derive.derive_tags(
        {"base_model": ["a/b", "c/d"], "tags": ["merge"], "license": "mit"},
        filenames=["model.safetensors"],
        config={"model_type": "llama"},
    )
    assert tags[:3] == ["transformers", "safetensors", "llama"]
    assert {"merge", "base_model:a/b", "base_model:merge:c/d", "license:mit"} <= set(tags)


def test_parameter_count_from_headers(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float16)}, str(path))
    parsed = derive.safetensors_header(path.read_bytes())
    assert parsed is not None
    assert derive.count_parameters([parsed[1]]) == {
        "parameters": {"F32": 12, "F16": 5},
        "total": 17,
    }
    assert derive.safetensors_header(b"\xff" * 16) is None


def test_index_round_trip_and_staleness(snapshot: Path) -> None:
    store = RepoStore(snapshot)
    metas = {m.id: m for m in store.refresh()}
    assert "org-b/secret" in metas and metas["org-b/secret"].private
    store.save_index()
    assert json.loads((snapshot / INDEX_NAME).read_text())["version"] == 3
    (snapshot / "org-a/ft-one/extra.txt").write_text("new file")
    fresh = RepoStore(snapshot)
    assert fresh.load_index() == len(metas) - 1  # the changed repo is not trusted
    merged = fresh.get("org-b/merged")  # unchanged: served from the index, not re-derived
    assert merged is not None and fresh.derived == 0
    assert merged.sha == metas["org-b/merged"].sha
    assert merged.fields == {k: v for k, v in metas["org-b/merged"].fields.items() if v is not None}
    changed = fresh.get("org-a/ft-one")
    assert changed is not None and changed.sha != metas["org-a/ft-one"].sha
    assert "extra.txt" in changed.files
    assert INDEX_NAME not in {m.id for m in fresh.refresh()}
