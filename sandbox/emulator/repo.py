"""One repo directory read as the Hub describes it: files, object ids, derived metadata.

Layout: ``ROOT/<org>/<name>/`` holds a repo's files; ``.hub.json`` in it may
override any Hub field (``sha``, ``lastModified``, ``createdAt``, ``downloads``,
``likes``, ``gated``, ``private``, …; its ``tags`` are *added* to the derived
ones).  :func:`derive_repo` reads a directory once into a :class:`RepoMeta` (the
card's front matter, ``config.json``, safetensors headers, tags, dates, a sha that
moves with any file change but not with settings); :class:`RepoFile` computes the
git and LFS object ids of a file on first use.  A :class:`RepoMeta` carries the
fingerprint (path, size, mtime of every file) the store uses to tell when a repo
has changed.  No caching here: that is :mod:`~kinhub.sandbox.emulator.store`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from kinhub.sandbox.emulator import derive

logger = logging.getLogger(__name__)

HUB_JSON = ".hub.json"

# Files the Hub's default .gitattributes stores in LFS, plus anything this large.
_LFS_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".gguf",
    ".pt",
    ".pth",
    ".ckpt",
    ".h5",
    ".onnx",
    ".msgpack",
    ".npy",
    ".npz",
    ".pkl",
    ".zip",
    ".tar",
    ".gz",
    ".model",
    ".tflite",
)
LFS_THRESHOLD = 10 * 1024 * 1024
_CHUNK = 1024 * 1024
_HEADER_PEEK = 64 * 1024

Fingerprint = tuple[tuple[str, int, int], ...]


def hub_time(value: datetime) -> str:
    """Format a datetime the way the Hub does: ``YYYY-MM-DDTHH:MM:SS.fffZ``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _normalize_time(value: Any, fallback: str) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return hub_time(parsed)
    return fallback


@dataclass(slots=True)
class RepoFile:
    """One file of a repo, with the Hub's object ids (computed on first use)."""

    path: str
    repo_dir: str
    size: int
    mtime_ns: int
    lfs: bool
    oid: str = ""  # git blob sha1 (of the LFS pointer for LFS files); see hashes()
    sha256: str = ""  # LFS files only
    pointer_size: int = 0  # LFS files only

    @property
    def abspath(self) -> Path:
        return Path(self.repo_dir, self.path)

    def hashes(self) -> RepoFile:
        """Compute the object ids on first use (reads the file once); returns self."""
        if not self.oid:
            _hash_file(self)
        return self

    @property
    def etag(self) -> str:
        """The ETag the resolve endpoint sends (sha256 for LFS, git oid otherwise)."""
        self.hashes()
        return self.sha256 if self.lfs else self.oid

    def lfs_info(self) -> dict[str, Any] | None:
        if not self.lfs:
            return None
        self.hashes()
        return {"sha256": self.sha256, "size": self.size, "pointerSize": self.pointer_size}


@dataclass
class RepoMeta:
    """Everything the emulator knows about one repo at one fingerprint.

    Files are kept as plain rows and turned into :class:`RepoFile` objects on
    first use: a 100,000-repo index then loads without building ~400,000 objects
    that a sorted listing never looks at.
    """

    id: str
    path: Path
    file_rows: list[tuple[str, int, int, bool]]  # (path, size, mtime_ns, lfs), sorted by path
    hub_stat: tuple[int, int] | None  # .hub.json (size, mtime_ns)
    sha: str
    last_modified: str
    created_at: str
    fields: dict[str, Any] = field(default_factory=dict)  # Hub field name → value
    dir_mtime_ns: int = 0  # of the repo directory, for trusting a persisted index entry

    @cached_property
    def files(self) -> dict[str, RepoFile]:
        root = str(self.path)
        return {r[0]: RepoFile(r[0], root, r[1], r[2], bool(r[3])) for r in self.file_rows}

    @cached_property
    def fingerprint(self) -> Fingerprint:
        return _fingerprint_rows(self.file_rows, self.hub_stat)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the persisted index (content hashes are not kept)."""
        return {
            "files": self.file_rows,
            "hub": self.hub_stat,
            # id, sha and dates are in fields already; None values are absent anyway
            "fields": {k: v for k, v in self.fields.items() if v is not None},
            "dirMtime": self.dir_mtime_ns,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], repo_dir: Path) -> RepoMeta:
        hub = data["hub"]
        fields = data["fields"]
        return cls(
            id=fields["id"],
            path=repo_dir,
            file_rows=data["files"],
            hub_stat=(hub[0], hub[1]) if hub else None,
            sha=fields["sha"],
            last_modified=fields["lastModified"],
            created_at=fields["createdAt"],
            fields=fields,
            dir_mtime_ns=data["dirMtime"],
        )

    @property
    def private(self) -> bool:
        return bool(self.fields.get("private"))

    @property
    def gated(self) -> Any:
        return self.fields.get("gated", False)

    def sort_value(self, key: str) -> Any:
        """The value ``/api/models?sort=key`` orders by (descending)."""
        if key == "lastModified":
            return self.last_modified
        if key == "createdAt":
            return self.created_at
        value = self.fields.get(key)
        return value if isinstance(value, int | float) else 0


def _git_blob_oid(data_len: int, chunks: list[bytes]) -> str:
    h = hashlib.sha1(f"blob {data_len}\0".encode(), usedforsecurity=False)
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _hash_file(entry: RepoFile) -> None:
    """Fill ``oid`` (and ``sha256``/``pointer_size`` for LFS files) by reading the file."""
    if entry.lfs:
        h = hashlib.sha256()
        with entry.abspath.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        entry.sha256 = h.hexdigest()
        pointer = (
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{entry.sha256}\nsize {entry.size}\n"
        ).encode()
        entry.pointer_size = len(pointer)
        entry.oid = _git_blob_oid(len(pointer), [pointer])
    else:
        entry.oid = _git_blob_oid(entry.size, [entry.abspath.read_bytes()])


def scan_files(repo_dir: Path) -> tuple[list[RepoFile], tuple[int, int] | None]:
    """List a repo's files recursively; also return ``.hub.json``'s (size, mtime_ns)."""
    files: list[RepoFile] = []
    hub_stat: tuple[int, int] | None = None
    root = str(repo_dir)
    stack = [("", repo_dir)]
    while stack:
        prefix, directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git":
                    stack.append((rel + "/", Path(entry.path)))
                continue
            if not entry.is_file(follow_symlinks=False):
                continue  # symlinks and sockets are never served
            st = entry.stat(follow_symlinks=False)
            if rel == HUB_JSON:
                hub_stat = (st.st_size, st.st_mtime_ns)
                continue
            lfs = entry.name.endswith(_LFS_SUFFIXES) or st.st_size >= LFS_THRESHOLD
            files.append(RepoFile(rel, root, st.st_size, st.st_mtime_ns, lfs))
    files.sort(key=lambda f: f.path)
    return files, hub_stat


def fingerprint(files: list[RepoFile], hub_stat: tuple[int, int] | None) -> Fingerprint:
    """What identifies a repo's state: (path, size, mtime) of each file and ``.hub.json``."""
    fp = tuple((f.path, f.size, f.mtime_ns) for f in files)
    if hub_stat is not None:
        fp += ((HUB_JSON, *hub_stat),)
    return fp


def _fingerprint_rows(
    rows: list[tuple[str, int, int, bool]], hub_stat: tuple[int, int] | None
) -> Fingerprint:
    fp = tuple((r[0], r[1], r[2]) for r in rows)
    if hub_stat is not None:
        fp += ((HUB_JSON, hub_stat[0], hub_stat[1]),)
    return fp


def _read_text(path: Path, limit: int = 4 * 1024 * 1024) -> str | None:
    try:
        with path.open("rb") as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def _safetensors_headers(files: list[RepoFile]) -> list[dict[str, Any]]:
    headers = []
    for f in files:
        if not f.path.endswith(".safetensors"):
            continue
        try:
            with f.abspath.open("rb") as fh:
                head = fh.read(_HEADER_PEEK)
                parsed = derive.safetensors_header(head)
                if parsed is None and len(head) >= 8:
                    length = int.from_bytes(head[:8], "little")
                    if length <= derive.MAX_SAFETENSORS_HEADER:
                        fh.seek(0)
                        parsed = derive.safetensors_header(fh.read(8 + length))
        except OSError:
            continue
        if parsed is not None:
            headers.append(parsed[1])
    return headers


def object_id(repo_id: str) -> str:
    """The Hub's object id (``_id``) of a repo created as ``repo_id``: it stays when
    the repo is renamed."""
    return hashlib.sha1(repo_id.encode(), usedforsecurity=False).hexdigest()[:24]


def derive_repo(repo_id: str, repo_dir: Path) -> RepoMeta:
    """Read one repo directory and derive its Hub metadata (no caching)."""
    dir_mtime_ns = repo_dir.stat().st_mtime_ns
    files, hub_stat = scan_files(repo_dir)
    names = [f.path for f in files]
    by_name = {f.path: f for f in files}

    overrides: dict[str, Any] = {}
    if hub_stat is not None:
        try:
            loaded = json.loads((repo_dir / HUB_JSON).read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                overrides = loaded
        except (OSError, ValueError):
            logger.warning("%s: unreadable %s ignored", repo_id, HUB_JSON)

    card = None
    if "README.md" in by_name:
        text = _read_text(by_name["README.md"].abspath)
        card = derive.parse_front_matter(text) if text is not None else None
    config_full: dict[str, Any] | None = None
    config = None
    if "config.json" in by_name:
        try:
            raw = by_name["config.json"].abspath.read_bytes()
            config = derive.hub_config(raw)
            loaded_cfg = derive.bounded_json(raw)
            config_full = loaded_cfg if isinstance(loaded_cfg, dict) else None
        except (OSError, ValueError, UnicodeDecodeError):
            config = None

    tags = derive.derive_tags(card, filenames=names, config=config_full)
    for extra in overrides.get("tags", []) if isinstance(overrides.get("tags"), list) else []:
        if isinstance(extra, str) and extra not in tags:
            tags.append(extra)

    # Settings (.hub.json: gating, likes, downloads) are not commits on the Hub: they move
    # neither lastModified nor the sha.
    mtimes = [f.mtime_ns for f in files]
    newest = datetime.fromtimestamp(max(mtimes) / 1e9, UTC) if mtimes else datetime.now(UTC)
    oldest = datetime.fromtimestamp(min(mtimes) / 1e9, UTC) if mtimes else newest
    last_modified = _normalize_time(overrides.get("lastModified"), hub_time(newest))
    created_at = _normalize_time(overrides.get("createdAt"), hub_time(oldest))

    sha = overrides.get("sha")
    if not (isinstance(sha, str) and len(sha) == 40 and all(c in "0123456789abcdef" for c in sha)):
        # Stable while the files are untouched; any change (even a rewrite) is a new commit.
        # Content hashes would mean reading every byte of every repo at startup.
        stamp = fingerprint(files, None)
        sha = hashlib.sha1(repr((repo_id, stamp)).encode(), usedforsecurity=False).hexdigest()

    library = card.get("library_name") if card else None
    if not isinstance(library, str):
        library = "transformers" if config_full is not None else None
    pipeline = card.get("pipeline_tag") if card else None
    if not isinstance(pipeline, str):
        info = derive.transformers_info(config)
        pipeline = info["pipeline_tag"] if info else None
    org = repo_id.split("/", 1)[0]
    fields: dict[str, Any] = {
        "_id": object_id(repo_id),
        "id": repo_id,
        "modelId": repo_id,
        "author": org,
        "sha": sha,
        "lastModified": last_modified,
        "createdAt": created_at,
        "private": False,
        "disabled": False,
        "gated": False,
        "downloads": 0,
        "downloadsAllTime": overrides.get("downloads", 0),
        "likes": 0,
        "trendingScore": 0,
        "library_name": library,
        "pipeline_tag": pipeline,
        "tags": tags,
        "cardData": card,
        "model-index": card.get("model-index") if card else None,
        "config": config,
        "transformersInfo": derive.transformers_info(config),
        "safetensors": derive.count_parameters(_safetensors_headers(files)),
        "baseModels": derive.base_models_field(card, filenames=names),
        "childrenModelCount": 0,
        "spaces": [],
        "usedStorage": sum(f.size for f in files),
        "widgetData": None,
        "inference": None,
        "evalResults": None,
        "gguf": None,
        "mask_token": None,
        "resourceGroup": None,
        "inferenceProviderMapping": None,
    }
    for key, value in overrides.items():
        if key not in ("tags", "sha", "lastModified", "createdAt", "id", "_id"):
            fields[key] = value
    return RepoMeta(
        id=repo_id,
        path=repo_dir,
        file_rows=[(f.path, f.size, f.mtime_ns, f.lfs) for f in files],
        hub_stat=hub_stat,
        sha=sha,
        last_modified=last_modified,
        created_at=created_at,
        fields=fields,
        dir_mtime_ns=dir_mtime_ns,
    )
