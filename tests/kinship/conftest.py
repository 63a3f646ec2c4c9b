"""Session-scoped generated model families (real safetensors folders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kinhub.sandbox.synth import Arch, Family, make_family
from safetensors.torch import load_file

FAMILY_KINDS = {
    "fp32-single": {"dtype": "fp32", "shards": 1},
    "bf16-sharded": {"dtype": "bf16", "shards": 3},
    "bf16-tied": {"dtype": "bf16", "shards": 1, "tied": True},
    "fp32-resized-sharded": {"dtype": "fp32", "shards": 2, "resized": 24},
}


@pytest.fixture(scope="session")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Family]:
    root = tmp_path_factory.mktemp("families")
    return {
        kind: make_family(root / kind, seed=i * 10, **kw)  # type: ignore[arg-type]
        for i, (kind, kw) in enumerate(FAMILY_KINDS.items())
    }


@pytest.fixture(scope="session")
def big_family(tmp_path_factory: pytest.TempPathFactory) -> Family:
    """A few million parameters, for sampled-mode accuracy."""
    arch = Arch(vocab=8192, hidden=320, layers=4, intermediate=864)
    return make_family(
        tmp_path_factory.mktemp("big"), arch=arch, dtype="bf16", shards=2, merges=False
    )


def load_f64(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a model folder, fully loaded and converted to float64 (test oracle)."""
    files = (
        sorted(
            set(
                json.loads((path / "model.safetensors.index.json").read_text())[
                    "weight_map"
                ].values()
            )
        )
        if (path / "model.safetensors.index.json").exists()
        else ["model.safetensors"]
    )
    out: dict[str, np.ndarray] = {}
    for f in files:
        for k, t in load_file(str(path / f)).items():
            out[k] = t.double().numpy()
    return out


def tied(path: Path, state: dict[str, np.ndarray]) -> bool:
    cfg = json.loads((path / "config.json").read_text())
    return bool(cfg.get("tie_word_embeddings")) or "lm_head.weight" not in state
