"""Session-scoped generated model families (real safetensors folders); the small
families (``families``) and their oracle (``load_f64``) are in tests/conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from kinhub.sandbox.families import Family, make_family
from kinhub.sandbox.tensors import Arch


@pytest.fixture(scope="session")
def big_family(tmp_path_factory: pytest.TempPathFactory) -> Family:
    """A few million parameters, for sampled-mode accuracy."""
    arch = Arch(vocab=8192, hidden=320, layers=4, intermediate=864)
    return make_family(
        tmp_path_factory.mktemp("big"), arch=arch, dtype="bf16", shards=2, merges=False
    )


def tied(path: Path, state: dict[str, np.ndarray]) -> bool:
    cfg = json.loads((path / "config.json").read_text())
    return bool(cfg.get("tie_word_embeddings")) or "lm_head.weight" not in state
