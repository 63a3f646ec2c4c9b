"""The emulator fixture family of tests/conftest.py: what it starts, and what it stops."""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from kinhub.sandbox.emulator import ScriptedFault
from kinhub.sandbox.families import MergeFamily
from kinhub.sandbox.hub import HubManifest

from tests.conftest import HubEmulators

CARD = "---\nbase_model: org/base\nlicense: mit\n---\n# ft\n"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_contents_are_served_to_the_real_client(hub_emulator: HubEmulators) -> None:
    emu = hub_emulator(
        {
            "org/base": {"README.md": "# base\n", "config.json": json.dumps({"model_type": "x"})},
            "org/ft": {
                "README.md": CARD,
                ".hub.json": {"lastModified": "2024-05-06T07:08:09.000Z", "likes": 7},
                "sub/notes.txt": b"bytes\n",
            },
        }
    )
    api = HfApi(endpoint=emu.url)
    info = api.model_info("org/ft", files_metadata=True)
    assert info.likes == 7 and info.last_modified is not None
    assert info.last_modified.isoformat().startswith("2024-05-06T07:08:09")
    assert {s.rfilename for s in info.siblings or []} == {"README.md", "sub/notes.txt"}
    assert "base_model:org/base" in (info.tags or [])
    assert sorted(m.id for m in api.list_models()) == ["org/base", "org/ft"]


def test_knobs_reach_the_emulator(hub_emulator: HubEmulators, tmp_path: Path) -> None:
    (tmp_path / "org" / "m").mkdir(parents=True)
    (tmp_path / "org" / "m" / "README.md").write_text("# m\n")
    url = "/api/models/org/m"
    limited = hub_emulator(tmp_path, rate_limit=2, rate_window_s=600)
    assert [_status(limited.url + url) for _ in range(3)] == [200, 200, 429]
    faulty = hub_emulator(tmp_path, fail_rate=1.0, seed=1, latency_ms=5)
    for _ in range(4):  # every answer is a fault: an error status, a reset or half a body
        try:
            with urllib.request.urlopen(faulty.url + url) as response:
                response.read()
        except (OSError, http.client.HTTPException):
            pass
    assert sum(faulty.stats()["faults"].values()) == 4
    assert faulty.app.latency_s == pytest.approx(0.005)
    scripted = hub_emulator(tmp_path, script=[ScriptedFault(r"^GET /api/models/org/m", "503")])
    assert [_status(scripted.url + url) for _ in range(2)] == [503, 200]
    paced = hub_emulator(tmp_path, bandwidth_bps=1e6, page_size=1, heavy_page_limit=None)
    assert (paced.app.bandwidth_bps, paced.app.page_size, paced.app.heavy_page_limit) == (
        1e6,
        1,
        None,
    )


def test_everything_stops_and_the_endpoint_is_restored(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://before.invalid")
    emulators = HubEmulators(tmp_path_factory)
    first = emulators({"org/a": {"README.md": "# a\n"}}, set_endpoint=True)
    second = emulators({"org/b": {"README.md": "# b\n"}})
    assert os.environ["HF_ENDPOINT"] == first.url
    urls = [first.url, second.url]
    assert [_status(f"{u}/api/models") for u in urls] == [200, 200]
    with second:  # a with block stops it early; close() does not mind
        pass
    emulators.close()
    assert os.environ["HF_ENDPOINT"] == "http://before.invalid"
    for u in urls:
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{u}/api/models")


def test_generated_hubs_are_made_once_and_shared(
    synthetic_hub: Callable[..., HubManifest], merge_family: MergeFamily
) -> None:
    small = synthetic_hub(n_models=12, seed=2)
    assert synthetic_hub(n_models=12, seed=2) is small
    assert synthetic_hub(n_models=12, seed=3).root != small.root
    assert len(small.repos) == 12 and not list(small.root.rglob("*.safetensors"))
    assert "m3/task-arith" in merge_family.repos
    assert (merge_family.root / "m3/task-arith" / "model.safetensors").is_file()
