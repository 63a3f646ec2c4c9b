"""mergekit configs from kinship/emit.py: validated by mergekit's own configuration model,
and one run through ``mergekit-yaml`` on tiny generated models served by the Hub emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from kinhub.crawler.methods import get_method
from kinhub.db.errors import InvalidRepoIdError
from kinhub.kinship.emit import (
    EMIT_METHODS,
    EmitError,
    EmitModel,
    choose_dtype,
    emit_yaml,
    merge_config,
)
from kinhub.sandbox.families import make_family
from kinhub.sandbox.tensors import Arch
from safetensors.torch import load_file

from tests.conftest import HubEmulators

mergekit_config = pytest.importorskip("mergekit.config")

A = EmitModel("org/a", dtype="bfloat16", vocab_size=128)
B = EmitModel("org/b", dtype="bfloat16", vocab_size=128)
BASE = EmitModel("org/base", dtype="bfloat16", vocab_size=128)


def validate(text: str) -> object:
    """mergekit's own check of a configuration (what ``mergekit-yaml`` does first)."""
    return mergekit_config.MergeConfiguration.model_validate(yaml.safe_load(text))


@pytest.mark.parametrize("method", EMIT_METHODS)
def test_every_method_validates_with_mergekit(method: str) -> None:
    text = emit_yaml(method=method, models=[A, B], base=BASE, comment=["a test"])
    config = validate(text)
    doc = yaml.safe_load(text)
    assert doc["merge_method"] == method
    assert [m["model"] for m in doc["models"]] == ["org/a", "org/b"]
    assert doc["dtype"] == "bfloat16"
    assert "tokenizer_source" not in doc
    spec = get_method(method)
    if spec.base_use == "anchor":
        assert doc["base_model"] == "org/base"
        assert str(config.base_model.model) == "org/base"  # type: ignore[attr-defined]
    elif method == "slerp":
        assert doc["base_model"] == "org/a"  # one of SLERP's two inputs
        assert doc["parameters"]["t"] == 0.5
    else:
        assert "base_model" not in doc
    assert text.startswith("# a test\n")


@pytest.mark.parametrize("method", EMIT_METHODS)
def test_vocabulary_difference_sets_tokenizer_source(method: str) -> None:
    wide = EmitModel("org/b", dtype="float32", vocab_size=136)
    text = emit_yaml(method=method, models=[A, wide], base=BASE)
    validate(text)
    doc = yaml.safe_load(text)
    assert doc["tokenizer_source"] == "union"
    assert doc["dtype"] == "bfloat16"  # the models differ: bfloat16 first


def test_dtype_choice() -> None:
    assert choose_dtype([EmitModel("o/a", "float32"), EmitModel("o/b", "float32")]) == "float32"
    assert choose_dtype([EmitModel("o/a", "float32"), EmitModel("o/b", "float16")]) == "float16"
    assert choose_dtype([EmitModel("o/a"), EmitModel("o/b")]) == "bfloat16"


def test_bad_requests_are_typed_errors() -> None:
    with pytest.raises(EmitError, match="methods"):
        merge_config(method="passthrough", models=[A, B], base=BASE)
    with pytest.raises(EmitError, match="no shared base"):
        merge_config(method="ties", models=[A, B], base=None)
    with pytest.raises(EmitError, match="cannot also be a merged model"):
        merge_config(method="ties", models=[A, BASE], base=BASE)
    with pytest.raises(EmitError, match="exactly two"):
        merge_config(method="slerp", models=[A, B, BASE])
    with pytest.raises(EmitError, match="at least two"):
        merge_config(method="linear", models=[A])
    with pytest.raises(InvalidRepoIdError):
        merge_config(method="linear", models=[A, EmitModel("../../etc/passwd")])


def test_yaml_is_plain_and_safe() -> None:
    text = emit_yaml(method="ties", models=[A, B], base=BASE, comment=["two\nlines"])
    assert "!!" not in text
    assert text.splitlines()[0] == "# two lines"


def test_emitted_config_runs_in_mergekit(tmp_path: Path, hub_emulator: HubEmulators) -> None:
    """``mergekit-yaml config.yml out/`` as a user runs it, reading the models from the
    Hub emulator by id; the merged weights follow the TIES arithmetic on the inputs."""
    exe = Path(sys.executable).parent / "mergekit-yaml"
    if not exe.exists():
        pytest.skip("mergekit-yaml is not installed (pip install -e .[test])")
    root = tmp_path / "hub"
    fam = make_family(
        root / "fam", arch=Arch(vocab=64, hidden=32, layers=2, intermediate=64), merges=False
    )
    for name in ("base", "ft1", "ft3"):
        meta = {"createdAt": "2024-01-01T00:00:00.000Z", "lastModified": "2024-01-01T00:00:00.000Z"}
        (fam[name] / ".hub.json").write_text(json.dumps(meta))
    text = emit_yaml(
        method="ties",
        models=[EmitModel("fam/ft1", "bfloat16", 64), EmitModel("fam/ft3", "bfloat16", 64)],
        base=EmitModel("fam/base", "bfloat16", 64),
    )
    config = tmp_path / "config.yml"
    config.write_text(text)
    out = tmp_path / "merged"
    with hub_emulator(root) as emu:
        env = {
            **os.environ,
            "HF_ENDPOINT": emu.url,
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "0",
        }
        env.pop("HF_TOKEN", None)
        run = subprocess.run(
            [str(exe), str(config), str(out), "--no-copy-tokenizer"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    assert run.returncode == 0, run.stderr[-3000:]
    merged = load_file(str(out / "model.safetensors"))
    base = load_file(str(fam["base"] / "model.safetensors"))
    ft1 = load_file(str(fam["ft1"] / "model.safetensors"))
    assert set(merged) == set(base)
    name = "model.layers.0.mlp.up_proj.weight"
    # TIES keeps half of each task vector; the merge moved away from the base towards ft1.
    delta = (merged[name].float() - base[name].float()).numpy()
    d1 = (ft1[name].float() - base[name].float()).numpy()
    assert np.count_nonzero(delta) > 0
    assert float(np.corrcoef(delta.ravel(), d1.ravel())[0, 1]) > 0.3
    assert yaml.safe_load((out / "mergekit_config.yml").read_text())["merge_method"] == "ties"
