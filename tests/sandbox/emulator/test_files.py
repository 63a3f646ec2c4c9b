"""File endpoints through the real client: downloads, cache, ranges, trees, safetensors."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from kinhub.sandbox.emulator import HubEmulator


def test_download_then_cached_by_sha_makes_no_request(
    emu: HubEmulator, snapshot: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    path = hf_hub_download("org-a/base", "config.json", endpoint=emu.url, cache_dir=cache)
    assert Path(path).read_bytes() == (snapshot / "org-a/base/config.json").read_bytes()
    sha = HfApi(endpoint=emu.url).model_info("org-a/base").sha
    assert sha is not None
    before = emu.stats()
    again = hf_hub_download(
        "org-a/base", "config.json", revision=sha, endpoint=emu.url, cache_dir=cache
    )
    assert Path(again).read_bytes() == Path(path).read_bytes()
    assert emu.stats() == before  # a 40-hex revision in the cache needs no request at all
    big = hf_hub_download("org-a/base", "model.safetensors", endpoint=emu.url, cache_dir=cache)
    assert Path(big).read_bytes() == (snapshot / "org-a/base/model.safetensors").read_bytes()
    assert emu.stats()["bytes"]["cdn"] > before["bytes"].get("cdn", 0)  # the CDN hop


def test_resolve_headers(emu: HubEmulator) -> None:
    req = urllib.request.Request(f"{emu.url}/org-c/blob/resolve/main/notes.txt", method="HEAD")
    with urllib.request.urlopen(req) as resp:
        headers = resp.headers
    sha = HfApi(endpoint=emu.url).model_info("org-c/blob").sha
    assert headers["X-Repo-Commit"] == sha
    assert headers["Content-Length"] == "5"
    assert headers["ETag"].startswith('"') and len(headers["ETag"]) == 42
    assert "Content-Encoding" not in headers
    assert not any(k.lower().startswith("x-xet") for k in headers)


def test_http_ranges_are_exact(emu: HubEmulator, snapshot: Path) -> None:
    data = (snapshot / "org-c/blob/data.bin").read_bytes()
    url = f"{emu.url}/org-c/blob/resolve/main/data.bin"

    def fetch(range_value: str) -> tuple[int, str | None, bytes]:
        req = urllib.request.Request(url, headers={"Range": range_value})
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.headers.get("Content-Range"), resp.read()

    assert fetch("bytes=10-19") == (206, f"bytes 10-19/{len(data)}", data[10:20])
    assert fetch("bytes=10000-") == (206, f"bytes 10000-10239/{len(data)}", data[10000:])
    assert fetch("bytes=-5") == (206, f"bytes 10235-10239/{len(data)}", data[-5:])
    assert fetch("bytes=0-100000")[2] == data  # end past the file is clamped
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch(f"bytes={len(data)}-")
    assert err.value.code == 416
    assert err.value.headers["Content-Range"] == f"bytes */{len(data)}"


def test_hf_file_system_ranged_reads(emu: HubEmulator, snapshot: Path) -> None:
    data = (snapshot / "org-c/blob/data.bin").read_bytes()
    fs = HfFileSystem(endpoint=emu.url, skip_instance_cache=True, block_size=1024)
    assert fs.info("org-c/blob/data.bin")["size"] == len(data)
    with fs.open("org-c/blob/data.bin", "rb") as fh:
        for start, length in [(0, 8), (1000, 300), (5000, 2048), (10230, 10), (3, 1)]:
            fh.seek(start)
            assert fh.read(length) == data[start : start + length]
    assert emu.stats()["statuses"].get("206", 0) >= 3
    listing = fs.ls("org-c/nested/sub", detail=False)
    assert sorted(listing) == ["org-c/nested/sub/dir", "org-c/nested/sub/top.txt"]
    assert fs.cat_file("org-c/nested/sub/dir/data.txt", start=10, end=20) == b"x" * 10


def test_repo_tree_and_paths_info(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    top = {e.path for e in api.list_repo_tree("org-c/nested")}
    assert top == {"README.md", "sub"}
    deep = {e.path: e for e in api.list_repo_tree("org-c/nested", recursive=True)}
    assert set(deep) == {"README.md", "sub", "sub/dir", "sub/dir/data.txt", "sub/top.txt"}
    assert getattr(deep["sub/dir/data.txt"], "size", None) == 5000
    lfs = next(e for e in api.list_repo_tree("org-a/base") if e.path == "model.safetensors")
    assert getattr(lfs, "lfs", None) is not None
    info = api.get_paths_info("org-c/nested", ["sub/top.txt", "sub/dir", "missing.txt"])
    assert [p.path for p in info] == ["sub/top.txt", "sub/dir"]


def test_safetensors_metadata_single_and_sharded(emu: HubEmulator) -> None:
    api = HfApi(endpoint=emu.url)
    single = api.get_safetensors_metadata("org-a/base")
    assert not single.sharded
    assert single.parameter_count == {"F32": 128, "F16": 8}
    sharded = api.get_safetensors_metadata("org-b/merged")
    assert sharded.sharded and set(sharded.files_metadata) == {
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    }
    assert sharded.weight_map == {
        "a": "model-00001-of-00002.safetensors",
        "b": "model-00002-of-00002.safetensors",
    }
    assert sharded.parameter_count == {"F32": 22}


def test_download_errors(emu: HubEmulator, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org-z/none", "config.json", endpoint=emu.url, cache_dir=cache)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org-b/secret", "config.json", endpoint=emu.url, cache_dir=cache)
    with pytest.raises(GatedRepoError):
        hf_hub_download("org-b/gated", "config.json", endpoint=emu.url, cache_dir=cache)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org-a/base", "nope.json", endpoint=emu.url, cache_dir=cache)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            "org-a/base", "config.json", revision="f" * 40, endpoint=emu.url, cache_dir=cache
        )
    req = urllib.request.Request(f"{emu.url}/org-a/base/resolve/main/nope.json", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 404
    assert err.value.headers["X-Error-Code"] == "EntryNotFound"
    assert (
        err.value.headers["X-Repo-Commit"] == HfApi(endpoint=emu.url).model_info("org-a/base").sha
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{emu.url}/org-z/none/resolve/main/x")
    assert (err.value.code, err.value.headers["X-Error-Code"]) == (401, "RepoNotFound")
