"""The one safetensors writer: mergekit's layout, byte for byte, in every dtype and shard form."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from kinhub.sandbox.tensors import Arch, base_state
from kinhub.sandbox.weights import (
    plan_shards,
    save_model,
    write_safetensors,
    write_streaming,
    write_streaming_model,
)
from safetensors import safe_open
from safetensors.torch import load_file

from tests.conftest import load_f64

ARCH = Arch(vocab=48, hidden=16, layers=2, intermediate=40)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# mergekit's unpickler still touches numpy.core on import.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("max_shard_bytes", [3_000, 12_000, 10**9])
def test_sharded_output_is_what_mergekit_writes(tmp_path: Path, max_shard_bytes: int) -> None:
    from mergekit.io.tensor_writer import TensorWriter

    state = base_state(ARCH, seed=4)
    tensors = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in state.items()}
    with TensorWriter(str(tmp_path / "mergekit"), max_shard_size=max_shard_bytes) as writer:
        for name, tensor in tensors.items():
            writer.save_tensor(name, tensor)
    write_safetensors(tmp_path / "ours", state, dtype="bf16", max_shard_bytes=max_shard_bytes)
    theirs, ours = _files(tmp_path / "mergekit"), _files(tmp_path / "ours")
    assert ours == theirs
    assert (len(ours) > 2) == (max_shard_bytes < 10**9)  # several shards, or one file


@pytest.mark.parametrize("dtype", ["bf16", "fp16", "fp32"])
@pytest.mark.parametrize("shards", [1, 2, 3])
def test_shards_dtypes_and_index(tmp_path: Path, dtype: str, shards: int) -> None:
    state = base_state(ARCH, seed=1)
    config = ARCH.config(dtype="float32")
    folder = save_model(state, tmp_path / "m", config=config, dtype=dtype, shards=shards)
    assert json.loads((folder / "config.json").read_text()) == config
    want_type = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    index_path = folder / "model.safetensors.index.json"
    if shards == 1:
        assert not index_path.exists()
        names = ["model.safetensors"]
    else:
        index = json.loads(index_path.read_text())
        names = [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
        assert sorted(set(index["weight_map"].values())) == names
        # contiguous runs in write order, every shard non-empty
        order = [index["weight_map"][k] for k in state]
        assert order == sorted(order) and set(order) == set(names)
        size = torch.empty(0, dtype=want_type).element_size()
        assert index["metadata"] == {
            "total_size": size * ARCH.num_params(),
            "mergekit_version": "0.1.5",
        }
    for name in names:
        with safe_open(str(folder / name), framework="pt") as f:
            assert f.metadata() == {"format": "pt"}
    loaded = load_f64(folder)
    assert set(loaded) == set(state)
    for k, v in state.items():
        want = torch.from_numpy(v).to(want_type).double().numpy()
        np.testing.assert_array_equal(loaded[k], want)


def test_numpy_dtype_kept_and_basename(tmp_path: Path) -> None:
    lora = {"a.lora_A.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
    assert write_safetensors(tmp_path, lora, basename="adapter_model") == [
        "adapter_model.safetensors"
    ]
    got = load_file(str(tmp_path / "adapter_model.safetensors"))
    assert got["a.lora_A.weight"].dtype == torch.float32
    np.testing.assert_array_equal(got["a.lora_A.weight"].numpy(), lora["a.lora_A.weight"])


def test_streaming_writes_the_same_model(tmp_path: Path) -> None:
    shapes = ARCH.shapes()

    def produce(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        g = torch.Generator().manual_seed(math.prod(shape) + len(name))
        return torch.randn(shape, generator=g)

    limit = 9_000
    written = write_streaming_model(tmp_path / "streamed", shapes.items(), produce, dtype="bf16",
                                    max_shard_bytes=limit)  # fmt: skip
    direct = {n: produce(n, s) for n, s in shapes.items()}
    write_safetensors(tmp_path / "direct", direct, dtype="bf16", max_shard_bytes=limit)
    streamed = json.loads((tmp_path / "streamed/model.safetensors.index.json").read_text())
    assert streamed == json.loads((tmp_path / "direct/model.safetensors.index.json").read_text())
    assert written == sum(p.stat().st_size for p in (tmp_path / "streamed").glob("*.safetensors"))
    a, b = load_f64(tmp_path / "streamed"), load_f64(tmp_path / "direct")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dtype"):
        write_safetensors(tmp_path, {"x": np.zeros(2, np.float32)}, dtype="int4")
    with pytest.raises(ValueError, match="shape"):
        write_streaming(tmp_path / "x.safetensors", [("x", (2, 2))], lambda n, s: torch.zeros(3))
    with pytest.raises(ValueError):
        plan_shards([("x", 4)], shards=0)
    # never more shards than tensors
    assert plan_shards([("a", 4), ("b", 4)], shards=5) == [["a"], ["b"]]
