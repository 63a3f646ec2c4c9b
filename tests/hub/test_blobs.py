"""Blob ids: git's own ids, sha256 of LFS files, ETags as the Hub sends them, and
cached blobs checked against the name ``huggingface_hub`` stores them under."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import hf_hub_download
from kinhub.hub import blobs
from kinhub.sandbox.emulator import HubEmulator

SAMPLES = [b"", b"# hello\n", b"a\0b\0\xff" * 1000, bytes(range(256)) * 300]


@pytest.mark.parametrize("data", SAMPLES)
def test_git_blob_id_is_what_git_computes(data: bytes) -> None:
    git = subprocess.run(
        ["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True
    )
    assert blobs.git_blob_id(data) == git.stdout.decode().strip()


@pytest.mark.parametrize("data", SAMPLES[1:])
def test_bytes_match_their_blob_and_nothing_else(data: bytes) -> None:
    sha1 = blobs.git_blob_id(data)
    sha256 = hashlib.sha256(data).hexdigest()
    assert blobs.matches_blob(data, sha1) and blobs.matches_blob(data, sha256)
    cut = data[:-1]  # a body cut short in transit
    assert not blobs.matches_blob(cut, sha1) and not blobs.matches_blob(cut, sha256)
    flipped = bytes([data[0] ^ 1]) + data[1:]
    assert not blobs.matches_blob(flipped, sha1)
    # An ETag that is not a content id gives nothing to check against.
    assert blobs.matches_blob(cut, "v1-abc")


def test_etag_of_prefers_the_linked_etag_and_strips_quoting() -> None:
    sha = blobs.git_blob_id(b"x")
    assert blobs.normalize_etag(f'W/"{sha}"') == sha
    assert blobs.normalize_etag('""') is None and blobs.normalize_etag(None) is None
    both = httpx2.Headers({"ETag": '"other"', "x-linked-etag": f'"{sha}"'})
    assert blobs.etag_of(both) == sha
    assert blobs.etag_of(httpx2.Headers({"etag": f'W/"{sha}"'})) == sha
    # A redirect without either header names its blob in the target's etag parameter.
    assert blobs.etag_of(httpx2.Headers({}), fallback=sha) == sha
    assert blobs.etag_of(httpx2.Headers({"ETag": '"h"'}), fallback=sha) == "h"
    assert blobs.etag_of(httpx2.Headers({})) is None


def test_cached_blobs_are_checked_against_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    repo = tmp_path / "hub" / "org" / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("# a card\n" * 50)
    with HubEmulator(tmp_path / "hub") as emu:
        path = Path(
            hf_hub_download("org/repo", "README.md", endpoint=emu.url, cache_dir=tmp_path / "cache")
        )
    # The snapshot entry links to a blob named by its id: it verifies as downloaded.
    assert path.is_symlink() and blobs.verify_cached_blob(path)
    blob = path.resolve()
    blob.write_bytes(blob.read_bytes()[:-3])  # cut short
    assert not blobs.verify_cached_blob(path)
    # A file whose name is not a content id cannot be checked, so it passes.
    plain = tmp_path / "notes.txt"
    plain.write_text("anything")
    assert blobs.verify_cached_blob(plain)
