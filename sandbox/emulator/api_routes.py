"""The emulator's Hub API routes: listing, model info, refs, tree and paths-info.

``GET /api/models`` (filters, sorts, cursors and field selection are
:mod:`~kinhub.sandbox.emulator.listing`; the page's ``Link`` header is absolute, a
heavy page of ``config`` times out with 504 as on the Hub), ``GET
/api/models/{repo}[/revision/{rev}]``, ``GET /api/models/{repo}/refs``, ``GET
/api/models/{repo}/tree/{rev}[/{dir}]`` and ``POST
/api/models/{repo}/paths-info/{rev}``, answered as huggingface_hub expects them.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from kinhub.sandbox.emulator import listing
from kinhub.sandbox.emulator.errors import BadRequestError
from kinhub.sandbox.emulator.exchange import Exchange, HttpError, flag, one
from kinhub.sandbox.emulator.repo import RepoFile, RepoMeta

_SAFE_FILE = {"status": "safe", "avScan": None, "pickleImportScan": None}


class ApiRoutes(Exchange):
    """Routes under ``/api/models`` (mixed into the request handler)."""

    def _list_models(self, params: dict[str, list[str]]) -> None:
        query = listing.parse_query(params)
        expand = params.get("expand", [])
        if expand and (flag(params, "full") or flag(params, "cardData")):
            raise BadRequestError("expand cannot be combined with full or cardData")
        limit_raw = one(params, "limit")
        try:
            size = int(limit_raw) if limit_raw else self.app.page_size
        except ValueError as exc:
            raise BadRequestError(f"invalid limit {limit_raw!r}") from exc
        size = max(1, min(size, self.app.max_page_size))
        cursor = one(params, "cursor")
        after = listing.decode_cursor(cursor) if cursor else None
        index = self.app.index(query.sort, refresh=cursor is None)
        try:
            metas, next_key = index.page(query, after=after, size=size)
        except TypeError as exc:  # a cursor made for another sort
            raise BadRequestError("cursor does not match this sort") from exc
        heavy = "config" in expand or flag(params, "config")
        limit = self.app.heavy_page_limit
        if heavy and limit is not None and len(metas) > limit:
            # The Hub's gateway gives up on a large page with heavy fields expanded.
            raise HttpError(504, "Gateway Time-out")
        items = [
            listing.project(
                m,
                expand=expand,
                listing=True,
                full=flag(params, "full"),
                card_data=flag(params, "cardData"),
                config=flag(params, "config"),
            )
            for m in metas
        ]
        headers = {}
        if next_key is not None:
            next_params = {k: v for k, v in params.items() if k not in ("cursor", "limit")}
            next_params["limit"] = [str(size)]
            next_params["cursor"] = [listing.encode_cursor(next_key)]
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            url = f"http://{host}/api/models?{urlencode(next_params, doseq=True)}"
            headers["Link"] = f'<{url}>; rel="next"'
        self._send_json(items, headers=headers)

    def _model_info(self, repo_id: str, revision: str | None, params: dict[str, list[str]]) -> None:
        meta = self._repo(repo_id, api=True)
        self._check_revision(meta, revision)
        data = listing.project(
            meta, expand=params.get("expand", []), listing=False, blobs=flag(params, "blobs")
        )
        if flag(params, "securityStatus"):
            data["securityRepoStatus"] = {"scansDone": True, "filesWithIssues": []}
        self._send_json(data)

    def _refs(self, repo_id: str) -> None:
        meta = self._repo(repo_id, api=True)
        branch = {"name": "main", "ref": "refs/heads/main", "targetCommit": meta.sha}
        self._send_json({"branches": [branch], "converts": [], "tags": []})

    def _tree_entries(
        self, meta: RepoMeta, directory: str, *, recursive: bool, expand: bool
    ) -> list[dict[str, Any]]:
        prefix = f"{directory}/" if directory else ""
        dirs: dict[str, list[str]] = {}
        files: list[RepoFile] = []
        for f in meta.files.values():
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix) :]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if depth > 1 and not recursive:
                    break
                dirs.setdefault(prefix + "/".join(parts[:depth]), []).append(f.hashes().oid)
            if len(parts) == 1 or recursive:
                files.append(f)
        if directory and not files and not dirs:
            raise HttpError(
                404,
                f"Entry not found: {directory}",
                code="EntryNotFound",
                headers={"X-Repo-Commit": meta.sha},
            )
        out = [self._dir_entry(meta, d, oids, expand) for d, oids in sorted(dirs.items())]
        out.extend(self._file_entry(meta, f, expand) for f in files)
        return out

    def _dir_entry(
        self, meta: RepoMeta, path: str, oids: list[str], expand: bool
    ) -> dict[str, Any]:
        oid = hashlib.sha1("".join(sorted(oids)).encode(), usedforsecurity=False).hexdigest()
        item: dict[str, Any] = {"type": "directory", "oid": oid, "path": path}
        if expand:
            item["lastCommit"] = self._last_commit(meta)
        return item

    def _file_entry(self, meta: RepoMeta, f: RepoFile, expand: bool) -> dict[str, Any]:
        f.hashes()
        item: dict[str, Any] = {"type": "file", "oid": f.oid, "size": f.size, "path": f.path}
        if f.lfs:
            item["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
        if expand:
            item["lastCommit"] = self._last_commit(meta)
            item["securityFileStatus"] = _SAFE_FILE
        return item

    @staticmethod
    def _last_commit(meta: RepoMeta) -> dict[str, str]:
        return {"id": meta.sha, "title": "Upload folder", "date": meta.last_modified}

    def _tree(
        self, repo_id: str, revision: str, directory: str, params: dict[str, list[str]]
    ) -> None:
        meta = self._repo(repo_id, api=True)
        self._check_revision(meta, revision)
        entries = self._tree_entries(
            meta, directory, recursive=flag(params, "recursive"), expand=flag(params, "expand")
        )
        self._send_json(entries)

    def _paths_info(self, repo_id: str, revision: str, form: dict[str, list[str]]) -> None:
        meta = self._repo(repo_id, api=True)
        self._check_revision(meta, revision)
        expand = flag(form, "expand")
        out: list[dict[str, Any]] = []
        dirs = {"/".join(p.split("/")[:i]) for p in meta.files for i in range(1, p.count("/") + 1)}
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in meta.files:
                out.append(self._file_entry(meta, meta.files[path], expand))
            elif path in dirs:
                oids = [
                    f.hashes().oid for f in meta.files.values() if f.path.startswith(path + "/")
                ]
                out.append(self._dir_entry(meta, path, oids, expand))
        self._send_json(out)
