"""The emulator's repo store: a snapshot directory read as Hub repos, cached per repo.

Names starting with ``.`` at the org or repo level are ignored, so manifests can
live next to the repos.  Each repo's metadata is derived once
(:func:`~kinhub.sandbox.emulator.repo.derive_repo`) and cached with its
fingerprint (path, size and mtime of every file).  :meth:`RepoStore.get`
re-checks one repo's fingerprint (a few ``stat`` calls) and re-derives it when
anything changed; :meth:`RepoStore.refresh` does that for every repo and picks up
added or removed repos.  Large snapshots keep the derived metadata between runs in
``ROOT/.emulator-index.json``; renamed repos are listed in ``ROOT/.renames.json``.
Only files listed in a repo's metadata are ever served, so a request path can
never escape the snapshot.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from kinhub.db.ids import is_repo_id
from kinhub.sandbox.emulator.repo import (
    RepoMeta,
    derive_repo,
    fingerprint,
    object_id,
    scan_files,
)

logger = logging.getLogger(__name__)

# Up to this many repos, every listing re-checks every repo's files for changes.
DEEP_CHECK_LIMIT = 5000
# Snapshots this large keep their derived metadata in ROOT/INDEX_NAME between runs.
PERSIST_MIN_REPOS = 2000
INDEX_NAME = ".emulator-index.json"
_INDEX_VERSION = 3  # 3: settings (.hub.json) no longer move sha or lastModified
# Renamed repos: ROOT/RENAMES_NAME maps an old id to the new one (the Hub redirects).
RENAMES_NAME = ".renames.json"


class RepoStore:
    """Thread-safe, lazily derived view of a snapshot directory."""

    def __init__(self, root: Path, *, deep_check_limit: int = DEEP_CHECK_LIMIT) -> None:
        self.root = Path(root)
        self.deep_check_limit = deep_check_limit
        self._lock = threading.Lock()
        self._metas: dict[str, RepoMeta] = {}
        self._known: set[str] | None = None  # discovered ids; None until first discovery
        self.generation = 0  # bumped whenever any repo is added, removed or changed
        self.derived = 0  # repos derived from their files so far (not from the index)
        self._renames: dict[str, str] = {}
        self._renames_key: tuple[int, int] | None = None

    def discover(self) -> set[str]:
        """Scan ``ROOT/<org>/<name>`` for repo directories (not their files)."""
        found: set[str] = set()
        try:
            orgs = list(os.scandir(self.root))
        except OSError:
            orgs = []
        for org in orgs:
            if org.name.startswith(".") or not org.is_dir():
                continue
            try:
                repos = list(os.scandir(org.path))
            except OSError:
                continue
            for repo in repos:
                repo_id = f"{org.name}/{repo.name}"
                if not repo.name.startswith(".") and repo.is_dir() and is_repo_id(repo_id):
                    found.add(repo_id)
        return found

    def original_id(self, repo_id: str) -> str | None:
        """The id a renamed repo was created under (following ``.renames.json`` back),
        or None when ``repo_id`` was never renamed."""
        self.renamed_to(repo_id)  # (re)loads the renames file
        back = {new: old for old, new in self._renames.items()}
        original, seen = None, {repo_id}
        while (previous := back.get(original or repo_id)) is not None and previous not in seen:
            original = previous
            seen.add(previous)
        return original

    def renamed_to(self, repo_id: str) -> str | None:
        """The id a renamed repo now has (``ROOT/.renames.json``), or None.

        An id that exists as a repo is never a rename (the Hub frees an old name
        only when no repo takes it again).
        """
        path = self.root / RENAMES_NAME
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        if self._renames_key != key:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                logger.warning("ignoring unreadable %s", path)
                loaded = {}
            renames = {
                str(k): str(v)
                for k, v in (loaded.items() if isinstance(loaded, dict) else [])
                if is_repo_id(str(k)) and is_repo_id(str(v))
            }
            with self._lock:
                self._renames, self._renames_key = renames, key
        new = self._renames.get(repo_id)
        if new is None or self._repo_dir(repo_id).is_dir():
            return None
        return new

    def _repo_dir(self, repo_id: str) -> Path:
        org, name = repo_id.split("/", 1)
        return self.root / org / name

    def _validate(self, repo_id: str) -> RepoMeta | None:
        """Return current metadata, re-deriving when the fingerprint moved."""
        repo_dir = self._repo_dir(repo_id)
        cached = self._metas.get(repo_id)
        if not repo_dir.is_dir():
            if cached is not None:
                with self._lock:
                    self._metas.pop(repo_id, None)
                    self.generation += 1
            return None
        if cached is not None:
            files, hub_stat = scan_files(repo_dir)
            if fingerprint(files, hub_stat) == cached.fingerprint:
                return cached
        meta = derive_repo(repo_id, repo_dir)
        original = self.original_id(repo_id)
        if original is not None:
            meta.fields["_id"] = object_id(original)  # a rename keeps the object id
        with self._lock:
            self._metas[repo_id] = meta
            self.generation += 1
            self.derived += 1
        return meta

    def get(self, repo_id: str) -> RepoMeta | None:
        """Current metadata of one repo (private ones included), or None if absent."""
        if not is_repo_id(repo_id):
            return None
        return self._validate(repo_id)

    def refresh(self) -> list[RepoMeta]:
        """Re-discover all repos, re-derive changed ones; return them all.

        Snapshots larger than ``deep_check_limit`` repos only pick up added and
        removed repos here (checking every file of 100,000 repos takes tens of
        seconds); a changed repo is still re-read by :meth:`get` or after
        :meth:`reload`.
        """
        ids = self.discover()
        deep = len(ids) <= self.deep_check_limit
        with self._lock:
            gone = set(self._metas) - ids
            for repo_id in gone:
                del self._metas[repo_id]
            if gone:
                self.generation += 1
            self._known = ids
        metas = []
        for repo_id in sorted(ids):
            known = self._metas.get(repo_id)
            meta = known if known is not None and not deep else self._validate(repo_id)
            if meta is not None:
                metas.append(meta)
        return metas

    def cached(self) -> list[RepoMeta]:
        """All metadata as last validated (refreshes first if never done)."""
        if self._known is None:
            return self.refresh()
        with self._lock:
            return list(self._metas.values())

    def reload(self) -> None:
        """Forget every cached repo; the next access re-reads the snapshot."""
        with self._lock:
            self._metas.clear()
            self._known = None
            self.generation += 1

    # -- persisted index ------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_NAME

    def load_index(self) -> int:
        """Adopt entries of ``ROOT/.emulator-index.json`` whose repo dir is unchanged.

        An entry is trusted when its repo directory's mtime is the one recorded
        (files added, removed or renamed change it); in-place edits are caught
        later by :meth:`get` and, for snapshots up to ``deep_check_limit``
        repos, by :meth:`refresh`.  Returns how many entries were adopted.
        """
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            logger.warning("ignoring unreadable emulator index %s", self.index_path)
            return 0
        if not isinstance(data, dict) or data.get("version") != _INDEX_VERSION:
            return 0
        adopted: dict[str, RepoMeta] = {}
        for entry in data.get("repos", []):
            try:
                repo_id = entry["fields"]["id"]
                if not is_repo_id(repo_id):
                    continue
                repo_dir = self._repo_dir(repo_id)
                meta = RepoMeta.from_json(entry, repo_dir)
                if repo_dir.stat().st_mtime_ns == meta.dir_mtime_ns:
                    adopted[repo_id] = meta
            except (KeyError, TypeError, ValueError, OSError):
                continue
        with self._lock:
            for repo_id, meta in adopted.items():
                self._metas.setdefault(repo_id, meta)
            self.generation += 1
        return len(adopted)

    def save_index(self) -> None:
        """Write every cached entry to ``ROOT/.emulator-index.json`` (atomically)."""
        with self._lock:
            entries = [m.to_json() for m in self._metas.values()]
        data = {"version": _INDEX_VERSION, "repos": entries}
        tmp = self.index_path.with_name(f"{INDEX_NAME}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.index_path)
        except OSError as exc:  # a read-only snapshot simply has no index
            logger.warning("cannot write emulator index %s: %s", self.index_path, exc)
            tmp.unlink(missing_ok=True)
