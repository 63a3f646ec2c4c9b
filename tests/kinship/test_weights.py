"""Weights access: typed errors for corrupt files and pickles; sharded indexes."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from kinhub.kinship.engine import compute_kinship
from kinhub.kinship.errors import PickleRefusedError, WeightsFormatError
from kinhub.kinship.weights import open_folder
from kinhub.sandbox.families import Family


def _copy(fam: Family, role: str, dst: Path) -> Path:
    return Path(shutil.copytree(fam[role], dst / role))


def test_sharded_index_lists_every_tensor(families: dict[str, Family]) -> None:
    fam = families["bf16-sharded"]
    mw = open_folder(fam["base"])
    assert len(mw.files) == 3
    assert set(mw.tensors) == set(fam.arch.shapes())
    assert {i.dtype for i in mw.tensors.values()} == {"BF16"}


def test_truncated_shard_names_file_and_tensor(families: dict[str, Family], tmp_path: Path) -> None:
    m = _copy(families["bf16-sharded"], "ft1", tmp_path)
    shard = m / "model-00002-of-00003.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsFormatError) as ei:
        open_folder(m)
    assert ei.value.file == shard.name and ei.value.tensor is not None
    assert "past end of file" in str(ei.value)


def test_truncated_after_indexing_is_typed(families: dict[str, Family], tmp_path: Path) -> None:
    fam = families["fp32-single"]
    m = _copy(fam, "ft1", tmp_path)
    mw = open_folder(m)
    last = max(mw.tensors.values(), key=lambda i: i.end)
    with open(m / "model.safetensors", "r+b") as f:
        f.truncate(last.start + 8)
    with pytest.raises(WeightsFormatError) as ei:
        mw.read(last, 0, last.numel)
    assert ei.value.tensor == last.name and "truncated" in str(ei.value)


def test_garbage_header(families: dict[str, Family], tmp_path: Path) -> None:
    m = _copy(families["fp32-single"], "ft2", tmp_path)
    f = m / "model.safetensors"
    raw = f.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    f.write_bytes(raw[:8] + b"\xff{garbage" + b" " * (n - 9) + raw[8 + n :])
    with pytest.raises(WeightsFormatError, match="header is not JSON"):
        open_folder(m)
    f.write_bytes(struct.pack("<Q", 10**12) + raw[8:])
    with pytest.raises(WeightsFormatError, match="header length"):
        open_folder(m)


def test_header_pointing_past_eof(families: dict[str, Family], tmp_path: Path) -> None:
    m = _copy(families["fp32-single"], "ft3", tmp_path)
    f = m / "model.safetensors"
    raw = f.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    s, e = header[name]["data_offsets"]
    header[name]["data_offsets"] = [s + 10**9, e + 10**9]
    new = json.dumps(header).encode()
    f.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])
    with pytest.raises(WeightsFormatError, match="past end of file") as ei:
        open_folder(m)
    assert ei.value.tensor


def test_pickle_refused_then_loaded_weights_only(
    families: dict[str, Family], tmp_path: Path
) -> None:
    fam = families["fp32-single"]
    folders = {}
    for role in ("ft1", "ft2", "base"):
        mw = open_folder(fam[role])
        state = {k: mw.read(i, 0, i.numel).reshape(i.shape).clone() for k, i in mw.tensors.items()}
        d = tmp_path / role
        d.mkdir()
        shutil.copy(fam[role] / "config.json", d / "config.json")
        torch.save(state, d / "pytorch_model.bin")
        folders[role] = str(d)
    with pytest.raises(PickleRefusedError, match="--allow-pickle"):
        compute_kinship(folders["ft1"], folders["ft2"], folders["base"])
    got = compute_kinship(folders["ft1"], folders["ft2"], folders["base"], allow_pickle=True)
    want = compute_kinship(str(fam["ft1"]), str(fam["ft2"]), str(fam["base"]))
    assert got.metrics == pytest.approx(want.metrics, rel=1e-9)
