"""HTTP routes of the Hub emulator (stdlib ``http.server``, HTTP/1.1 keep-alive).

Every request is counted in a bucket (``api``; ``resolve`` for ``/resolve/`` and
``/api/resolve-cache/``, the Hub's *resolvers* quota; ``pages`` for anything else),
then delayed, rate limited and possibly faulted, then routed.  Every answer carries
the Hub's ``RateLimit``/``RateLimit-Policy`` headers (policies ``api``,
``resolvers``, ``pages``).  ``/_emulator/*`` skips all of
that.  Responses always carry ``Content-Length`` and are never compressed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from kinhub.sandbox.emulator import listing
from kinhub.sandbox.emulator.errors import BadRequestError
from kinhub.sandbox.emulator.faults import (
    UNLIMITED_QUOTA,
    Fault,
    FaultInjector,
    FaultScript,
    RateLimiter,
)
from kinhub.sandbox.emulator.stats import Stats
from kinhub.sandbox.emulator.store import PERSIST_MIN_REPOS, RepoFile, RepoMeta, RepoStore

logger = logging.getLogger(__name__)

_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_RESOLVE = re.compile(rf"^/(?:models/)?({_PART})/({_PART})/resolve/([^/]+)/(.+)$")
# Where the Hub's resolve answers 307 for small (non-LFS) files; the HEAD and GET that
# follow count against the resolvers quota as well.
_RESOLVE_CACHE = re.compile(rf"^/api/resolve-cache/models/({_PART})/({_PART})/([^/]+)/(.+)$")
_INFO = re.compile(rf"^/api/models/({_PART})/({_PART})(?:/revision/([^/]+))?/?$")
_TREE = re.compile(rf"^/api/models/({_PART})/({_PART})/tree/([^/]+)(?:/(.*))?$")
_PATHS_INFO = re.compile(rf"^/api/models/({_PART})/({_PART})/paths-info/([^/]+)$")
_REFS = re.compile(rf"^/api/models/({_PART})/({_PART})/refs$")
_CHUNK = 256 * 1024
_SAFE_FILE = {"status": "safe", "avScan": None, "pickleImportScan": None}


class HttpError(Exception):
    """An error response: status, ``X-Error-Code`` and message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


class EmulatorApp:
    """Shared state of one emulator: store, counters, limiter, faults, listing caches."""

    def __init__(
        self,
        store: RepoStore,
        *,
        latency_ms: float = 0,
        faults: FaultInjector | None = None,
        limiter: RateLimiter | None = None,
        page_size: int = listing.DEFAULT_MAX_PAGE,
        max_page_size: int = listing.DEFAULT_MAX_PAGE,
        script: FaultScript | None = None,
        heavy_page_limit: int | None = listing.HEAVY_PAGE_LIMIT,
        bandwidth_bps: float | None = None,
    ) -> None:
        self.store = store
        self.stats = Stats()
        self.latency_s = latency_ms / 1000.0
        # File bodies are sent at most this many bytes per second, per response.
        self.bandwidth_bps = bandwidth_bps if bandwidth_bps and bandwidth_bps > 0 else None
        self.faults = faults
        # Always present: the headers come on every answer even when nothing is enforced.
        self.limiter = limiter or RateLimiter(UNLIMITED_QUOTA)
        self.script = script or FaultScript()
        # A listing page with more items than this and a heavy field (config) expanded
        # times out at the gateway (504), as on the Hub; None: never.
        self.heavy_page_limit = heavy_page_limit
        self._lock = threading.Lock()
        self._too_many = 0
        self.page_size = page_size
        self.max_page_size = max(max_page_size, page_size)
        self._index_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._indexes: dict[str | None, listing.SortedIndex] = {}

    def next_too_many_remaining(self) -> bool:
        """Whether the next injected 429 says r>0 (every other one does: the Hub
        sends 429s with requests left in the window, which clients must not take for
        a spent quota)."""
        with self._lock:
            self._too_many += 1
            return self._too_many % 2 == 0

    def warm_up(self) -> None:
        """Index the whole snapshot (run on a background thread at start)."""
        with self._refresh_lock:
            adopted = self.store.load_index()
            derived_before = self.store.derived
            metas = self.store.refresh()
            derived = self.store.derived - derived_before
            if derived and len(metas) >= PERSIST_MIN_REPOS:
                self.store.save_index()
        logger.info("indexed %d repos (%d from the saved index)", len(metas), adopted)

    def index(self, sort: str | None, *, refresh: bool) -> listing.SortedIndex:
        """The sorted index for ``sort``; ``refresh`` re-validates the snapshot first."""
        # One refresh at a time: concurrent first pages would derive every repo twice.
        with self._refresh_lock:
            metas = self.store.refresh() if refresh else self.store.cached()
        generation = self.store.generation
        with self._index_lock:
            cached = self._indexes.get(sort)
            if cached is not None and cached.generation == generation:
                return cached
        built = listing.SortedIndex(metas, sort, generation)
        with self._index_lock:
            self._indexes[sort] = built
        return built


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the :class:`EmulatorApp`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        super().__init__(address, HubRequestHandler)


def _one(params: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = params.get(key)
    return values[-1] if values else None


def _flag(params: Mapping[str, Sequence[str]], key: str) -> bool:
    value = _one(params, key)
    return value is not None and value.lower() in ("1", "true", "yes")


class HubRequestHandler(BaseHTTPRequestHandler):
    """One connection; routes Hub API, resolve and ``/_emulator`` requests."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait for
    # a delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True
    server: EmulatorServer
    server_version = "kinhub-emulator"

    # -- plumbing -------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        # One handler instance serves every request of a keep-alive connection: reset per request.
        self._bucket = "api"
        self._truncate = False
        self._ratelimit_headers: dict[str, str] = {}
        self._headers_sent = False
        body = self._read_body()
        split = urlsplit(self.path)
        params = parse_qs(split.query, keep_blank_values=True)
        path = split.path
        try:
            if path.startswith("/_emulator/"):
                self._emulator_route(path)
                return
            if _RESOLVE.match(path) or _RESOLVE_CACHE.match(path):
                self._bucket = "resolve"
            elif path.startswith("/api/"):
                self._bucket = "api"
            else:
                self._bucket = "pages"
            self.app.stats.request(self._bucket)
            if self.app.latency_s > 0:
                time.sleep(self.app.latency_s)
            if not self._gate():
                return
            self._route(path, params, body)
        except HttpError as err:
            self._send_error(err)
        except BadRequestError as err:
            self._send_error(HttpError(400, str(err), code="BadRequest"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug must not kill the serving thread silently
            logger.exception("emulator error on %s %s", self.command, self.path)
            if self._headers_sent:  # mid-body: the only honest signal left is closing
                self.close_connection = True
            else:
                self._send_error(HttpError(500, "internal emulator error"))

    def _gate(self) -> bool:
        """Apply rate limit and fault injection; False when the request was answered."""
        app = self.app
        decision = app.limiter.check(self._bucket)
        self._ratelimit_headers = decision.headers(self._bucket)
        if not decision.allowed:
            raise HttpError(
                429,
                "You have exceeded our hourly quotas for action "
                f"'{self._bucket}'. Retry in {decision.reset_s} seconds.",
                code="RateLimited",
                headers=self._ratelimit_headers,
            )
        scripted = app.script.draw(f"{self.command} {self.path}")
        if scripted is not None:
            app.stats.fault(scripted)
            if scripted == "reset":
                self._reset_connection()
                return False
            self._fail(int(scripted[:3]), remaining=scripted == "429r", decision=decision)
        fault = app.faults.draw(allow_body_faults=self.command != "HEAD") if app.faults else None
        if fault is None:
            return True
        app.stats.fault(fault.value)
        if fault is Fault.RESET:
            self._reset_connection()
            return False
        if fault is Fault.TRUNCATED:
            self._truncate = True
            return True
        status = int(fault.value)
        remaining = status == 429 and app.next_too_many_remaining()
        self._fail(status, remaining=remaining, decision=decision)
        return True  # not reached: _fail raises

    def _fail(self, status: int, *, remaining: bool, decision: Any) -> None:
        """Raise an injected error answer.  A 429 either says the window is spent
        (``r=0;t=0``: a short window that has just ended) or, with ``remaining``,
        still shows requests left and the window's real reset time (r>0: a client
        must not wait that long on its word)."""
        headers = {"Retry-After": "1"}
        if status == 429:
            if remaining:
                headers = decision.headers(self._bucket, remaining=max(1, decision.remaining))
                # A reset far away: a client trusting it would stall for minutes.
                headers["RateLimit"] = headers["RateLimit"].rsplit(";t=", 1)[0] + ";t=290"
            else:
                headers = decision.headers(self._bucket, remaining=0)
                headers["RateLimit"] = headers["RateLimit"].rsplit(";t=", 1)[0] + ";t=0"
        elif status == 504:
            headers = {}
        raise HttpError(status, f"injected fault {status}", headers=headers)

    def _reset_connection(self) -> None:
        self.close_connection = True
        # SO_LINGER 0 turns close() into a TCP reset, as a dropped proxy connection would.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _headers_out(self, status: int, headers: Mapping[str, str]) -> None:
        self._headers_sent = True
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        for key, value in self._ratelimit_headers.items():
            if key not in headers:
                self.send_header(key, value)
        self.end_headers()

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        out = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        self._headers_out(status, out)
        truncate = self._truncate and self._bucket != "emulator"
        sent = 0 if self.command == "HEAD" else len(body) // 2 if truncate else len(body)
        # Counted before the body goes out: a client that has read the response
        # must find it in the stats.
        if self._bucket != "emulator":
            self.app.stats.response(self._bucket, status, sent)
        if sent:
            self.wfile.write(body[:sent])
        if truncate and self.command != "HEAD" and body:
            self._close_after_truncation()

    def _close_after_truncation(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    def _send_json(
        self, data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _send_error(self, err: HttpError) -> None:
        headers = dict(err.headers)
        if err.code:
            headers["X-Error-Code"] = err.code
        headers["X-Error-Message"] = err.message
        self._truncate = False
        self._send_json({"error": err.message}, status=err.status, headers=headers)

    # -- routes ---------------------------------------------------------------------------

    def _emulator_route(self, path: str) -> None:
        self._bucket = "emulator"
        if path == "/_emulator/stats" and self.command in ("GET", "HEAD"):
            self._send_json(self.app.stats.snapshot())
        elif path == "/_emulator/reset" and self.command == "POST":
            self.app.stats.reset()
            if self.app.limiter is not None:
                self.app.limiter.reset()
            self._send_json({"ok": True})
        elif path == "/_emulator/reload" and self.command == "POST":
            self.app.store.reload()
            self._send_json({"ok": True})
        else:
            raise HttpError(404, f"no emulator route {self.command} {path}")

    def _route(self, path: str, params: dict[str, list[str]], body: bytes) -> None:
        if self.command == "POST":
            if m := _PATHS_INFO.match(path):
                form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
                self._paths_info(f"{m[1]}/{m[2]}", unquote(m[3]), form)
                return
            raise HttpError(404, f"no route POST {path}")
        if m := _RESOLVE.match(path):
            self._resolve(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4]))
        elif m := _RESOLVE_CACHE.match(path):
            self._resolve_cache(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4]))
        elif path.rstrip("/") == "/api/models":
            self._list_models(params)
        elif m := _TREE.match(path):
            self._tree(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4] or "").strip("/"), params)
        elif m := _REFS.match(path):
            meta = self._repo(f"{m[1]}/{m[2]}", api=True)
            branch = {"name": "main", "ref": "refs/heads/main", "targetCommit": meta.sha}
            self._send_json({"branches": [branch], "converts": [], "tags": []})
        elif m := _INFO.match(path):
            rev = unquote(m[3]) if m[3] else None
            self._model_info(f"{m[1]}/{m[2]}", rev, params)
        else:
            raise HttpError(404, f"Sorry, we can't find the page you are looking for ({path}).")

    def _repo(self, repo_id: str, *, api: bool) -> RepoMeta:
        meta = self.app.store.get(repo_id)
        if meta is None and (new_id := self.app.store.renamed_to(repo_id)) is not None:
            # A renamed repo: the Hub answers a relative redirect to the new name, on the
            # API and on resolve alike.
            split = urlsplit(self.path)
            moved = split.path.replace(f"/{repo_id}/", f"/{new_id}/", 1)
            if moved == split.path and split.path.endswith(f"/{repo_id}"):
                moved = split.path[: -len(repo_id)] + new_id
            location = moved + (f"?{split.query}" if split.query else "")
            raise HttpError(307, f"Repository moved to {new_id}", headers={"Location": location})
        if meta is None or meta.private:
            raise HttpError(
                404 if api else 401,
                "Repository not found",
                code="RepoNotFound",
            )
        return meta

    def _check_revision(self, meta: RepoMeta, revision: str | None) -> None:
        if revision in (None, "main", "refs/heads/main", meta.sha):
            return
        raise HttpError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")

    def _list_models(self, params: dict[str, list[str]]) -> None:
        query = listing.parse_query(params)
        expand = params.get("expand", [])
        if expand and (_flag(params, "full") or _flag(params, "cardData")):
            raise BadRequestError("expand cannot be combined with full or cardData")
        limit_raw = _one(params, "limit")
        try:
            size = int(limit_raw) if limit_raw else self.app.page_size
        except ValueError as exc:
            raise BadRequestError(f"invalid limit {limit_raw!r}") from exc
        size = max(1, min(size, self.app.max_page_size))
        cursor = _one(params, "cursor")
        after = listing.decode_cursor(cursor) if cursor else None
        index = self.app.index(query.sort, refresh=cursor is None)
        try:
            metas, next_key = index.page(query, after=after, size=size)
        except TypeError as exc:  # a cursor made for another sort
            raise BadRequestError("cursor does not match this sort") from exc
        heavy = "config" in expand or _flag(params, "config")
        limit = self.app.heavy_page_limit
        if heavy and limit is not None and len(metas) > limit:
            # The Hub's gateway gives up on a large page with heavy fields expanded.
            raise HttpError(504, "Gateway Time-out")
        items = [
            listing.project(
                m,
                expand=expand,
                listing=True,
                full=_flag(params, "full"),
                card_data=_flag(params, "cardData"),
                config=_flag(params, "config"),
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
            meta, expand=params.get("expand", []), listing=False, blobs=_flag(params, "blobs")
        )
        if _flag(params, "securityStatus"):
            data["securityRepoStatus"] = {"scansDone": True, "filesWithIssues": []}
        self._send_json(data)

    def _file_entry_or_error(self, meta: RepoMeta, revision: str, filename: str) -> RepoFile:
        self._check_revision(meta, revision)
        if meta.gated:
            # Nobody is on a gated repo's authorized list here: anonymous callers get 401,
            # logged-in ones 403, both with the GatedRepo code.
            anonymous = not self.headers.get("Authorization")
            message = (
                f"Access to model {meta.id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in."
                if anonymous
                else f"Access to model {meta.id} is restricted and you are not in the "
                "authorized list."
            )
            raise HttpError(
                401 if anonymous else 403,
                message,
                code="GatedRepo",
                headers={"X-Repo-Commit": meta.sha},
            )
        entry = meta.files.get(filename)
        if entry is None:
            raise HttpError(
                404, "Entry not found", code="EntryNotFound", headers={"X-Repo-Commit": meta.sha}
            )
        return entry

    def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
        meta = self._repo(repo_id, api=False)
        entry = self._file_entry_or_error(meta, revision, filename)
        if entry.lfs:
            self._send_file(meta, entry)
            return
        # Small files: 307 to the resolve cache at the commit, as the Hub answers.
        origin = f"/{repo_id}/resolve/{revision}/{filename}"
        query = urlencode({origin: "", "etag": f'"{entry.etag}"'})
        location = f"/api/resolve-cache/models/{repo_id}/{meta.sha}/{quote(filename)}?{query}"
        body = f"Temporary Redirect. Redirecting to {location}".encode()
        headers = {
            "Location": location,
            "X-Repo-Commit": meta.sha,
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": str(len(body)),
        }
        self._headers_out(307, headers)
        self.app.stats.response(self._bucket, 307, 0 if self.command == "HEAD" else len(body))
        if self.command == "GET":
            self.wfile.write(body)

    def _resolve_cache(self, repo_id: str, revision: str, filename: str) -> None:
        meta = self._repo(repo_id, api=False)
        entry = self._file_entry_or_error(meta, revision, filename)
        self._send_file(meta, entry)

    def _send_file(self, meta: RepoMeta, entry: RepoFile) -> None:
        size = entry.size
        start, end, status = 0, size - 1, 200
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": meta.sha,
            "ETag": f'"{entry.etag}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(entry.path.split('/')[-1])}",
        }
        range_header = self.headers.get("Range")
        if range_header and self.command == "GET":
            parsed = _parse_range(range_header, size)
            if parsed == "unsatisfiable":
                raise HttpError(
                    416,
                    "Requested Range Not Satisfiable",
                    headers={"Content-Range": f"bytes */{size}", "X-Repo-Commit": meta.sha},
                )
            if isinstance(parsed, tuple):
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(0, end - start + 1)
        headers["Content-Length"] = str(length)
        self._headers_out(status, headers)
        self.app.stats.response(self._bucket, status, 0)
        sent = 0
        if self.command == "GET" and length:
            budget = length // 2 if self._truncate else length
            with entry.abspath.open("rb") as fh:
                fh.seek(start)
                while sent < budget:
                    chunk = fh.read(min(_CHUNK, budget - sent))
                    if not chunk:
                        break
                    if self.app.bandwidth_bps:  # the time this chunk takes on the wire
                        time.sleep(len(chunk) / self.app.bandwidth_bps)
                    self.app.stats.sent(self._bucket, len(chunk))
                    self.wfile.write(chunk)
                    sent += len(chunk)
            if self._truncate:
                self._close_after_truncation()

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
            meta, directory, recursive=_flag(params, "recursive"), expand=_flag(params, "expand")
        )
        self._send_json(entries)

    def _paths_info(self, repo_id: str, revision: str, form: dict[str, list[str]]) -> None:
        meta = self._repo(repo_id, api=True)
        self._check_revision(meta, revision)
        expand = _flag(form, "expand")
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


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` for one satisfiable byte range, "unsatisfiable", or None to ignore."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # other units and multi-range: serve the whole file (RFC 9110 allows it)
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1)
