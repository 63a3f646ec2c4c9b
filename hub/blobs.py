"""Blob ids: which blob an ETag names, and whether some bytes are that blob.

The Hub names a file's content by its blob id: the git blob sha1 (40 hex digits) for
regular files, the sha256 (64) for LFS files.  It sends that id as ``ETag`` (or
``X-Linked-Etag`` on a redirect, or as the ``etag`` parameter of the resolve-cache URL
a 307 points at), and ``huggingface_hub`` names cached blobs by it.  Comparing bytes
with their id catches a body cut short or corrupted in transit, and tells whether a
text stored from an earlier commit is still the file's content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

_HEX = frozenset("0123456789abcdef")


def normalize_etag(value: str | None) -> str | None:
    """An ETag without its weak prefix and quotes; None when empty."""
    if not value:
        return None
    return value.removeprefix("W/").strip('"') or None


def etag_of(headers: Mapping[str, str], *, fallback: str | None = None) -> str | None:
    """The blob id an answer names: its ``X-Linked-Etag``, else its ``ETag``, else
    ``fallback`` (a redirect's target URL may carry it as a parameter)."""
    return normalize_etag(headers.get("X-Linked-Etag") or headers.get("ETag") or fallback)


def git_blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob (what ``git hash-object`` prints)."""
    digest = hashlib.sha1(f"blob {len(data)}\0".encode(), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def matches_blob(data: bytes, etag: str) -> bool:
    """Whether ``data`` is the blob ``etag`` names (git sha1 or LFS sha256); True when
    ``etag`` is not a content id (nothing to check against)."""
    if len(etag) == 40:
        return git_blob_id(data) == etag
    if len(etag) == 64:
        return hashlib.sha256(data).hexdigest() == etag
    return True


def verify_cached_blob(path: Path) -> bool:
    """Whether a cached file (a snapshot link or the blob itself) matches the blob id
    it is stored under; True for a file whose name is not a content id."""
    blob = Path(os.path.realpath(path))
    name = blob.name
    if len(name) not in (40, 64) or not set(name) <= _HEX:
        return True
    return matches_blob(blob.read_bytes(), name)
