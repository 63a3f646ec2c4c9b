"""A local model's fingerprint covers every weight file read, shards in subfolders too:
a changed shard is measured again, never answered from the stored row."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from kinhub.db.engine import Database
from kinhub.kinship.engine import fingerprint
from kinhub.kinship.service import measure_kinship
from kinhub.kinship.weights import open_folder, weight_files
from kinhub.sandbox.tensors import base_state, finetune
from kinhub.sandbox.weights import save_model, write_safetensors

from tests.kinship.hostile_weights import read_st, write_st
from tests.kinship.worker_hub import TINY


def _subfolder_model(path: Path, state: dict[str, np.ndarray]) -> Path:
    """A model whose top-level index names two shards in ``weights/``."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(TINY.config(dtype="float32")))
    write_safetensors(path / "weights", state, dtype="fp32", shards=2)
    index = json.loads((path / "weights" / "model.safetensors.index.json").read_text())
    index["weight_map"] = {k: f"weights/{v}" for k, v in index["weight_map"].items()}
    (path / "weights" / "model.safetensors.index.json").unlink()
    (path / "model.safetensors.index.json").write_text(json.dumps(index))
    return path


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    base = base_state(TINY, seed=3)
    cfg = TINY.config(dtype="float32")
    ft, sub = (finetune(base, seed=s, shared_seed=9, rho=0.5) for s in (4, 5))
    return {
        "base": save_model(base, tmp_path / "base", config=cfg, dtype="fp32"),
        "ft": save_model(ft, tmp_path / "ft", config=cfg, dtype="fp32"),
        "sub": _subfolder_model(tmp_path / "sub", sub),
    }


def _perturb_shard(shard: Path) -> None:
    """Same size, other values, a later mtime (so coarse clocks cannot hide the write)."""
    header, data = read_st(shard)
    arr = np.frombuffer(data, dtype=np.float32).copy()
    arr *= 1.5
    write_st(shard, header, arr.tobytes())
    st = shard.stat()
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))


def test_weight_files_name_the_shards_in_the_subfolder(models: dict[str, Path]) -> None:
    files = weight_files(models["sub"])
    assert files[:2] == ["config.json", "model.safetensors.index.json"]
    assert sorted(files[2:]) == sorted(open_folder(models["sub"]).files)
    assert all(f.startswith("weights/") for f in files[2:])
    # A hostile index naming files outside the folder: fingerprinted as missing, not read.
    (models["sub"] / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "../../etc/passwd", "y": "/etc/hostname"}})
    )
    assert len(fingerprint(str(models["sub"])) or "") == 64


def test_changed_shard_in_subfolder_is_not_answered_from_the_cache(
    database: Database, models: dict[str, Path]
) -> None:
    refs = {"a": str(models["ft"]), "b": str(models["sub"]), "base": str(models["base"])}
    first = measure_kinship(database, **refs)
    again = measure_kinship(database, **refs)
    assert (first.cached, again.cached) == (False, True)
    before = fingerprint(refs["b"])
    shard = sorted((models["sub"] / "weights").glob("*.safetensors"))[-1]
    _perturb_shard(shard)
    assert fingerprint(refs["b"]) != before
    changed = measure_kinship(database, **refs)
    assert changed.cached is False
    assert changed.result.metrics["ed"] != pytest.approx(first.result.metrics["ed"])
