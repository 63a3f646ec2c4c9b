"""The emulator's file routes: resolve, the resolve-cache hop, and exact Range reads.

``/{repo}/resolve/{rev}/{path}`` answers a small (non-LFS) file with a 307 to
``/api/resolve-cache/models/{repo}/{sha}/{path}`` (so a download is three requests
on the resolvers quota, as on the Hub) and a large (LFS) file with a 302 to a signed,
expiring location ``/cdn-lfs/models/{repo}/{sha}/{path}?Expires=…&Signature=…`` —
the Hub's CDN hop: bytes and Range reads there count in the ``cdn`` bucket, on no
quota, and a location past its expiry or with a wrong signature answers 403, so a
reader resolves again.  With ``cdn_ttl_s=None`` LFS files are served by the resolve
itself.  Files are
sent with ``X-Repo-Commit`` and an ``ETag``; a single ``Range: bytes=a-b`` is
honoured exactly (206 with ``Content-Range``; 416 when unsatisfiable), multi-range
and other units get the whole file.  Bodies can be paced (``bandwidth_bps``) and
truncated by an injected fault.  Gated repos answer 401 anonymously and 403 to a
logged-in caller, with ``X-Error-Code: GatedRepo``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode

from kinhub.sandbox.emulator.exchange import Exchange, HttpError
from kinhub.sandbox.emulator.repo import RepoFile, RepoMeta

_CHUNK = 256 * 1024


class FileRoutes(Exchange):
    """Routes that serve file bytes (mixed into the request handler)."""

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
        if entry.lfs and self.app.cdn_ttl_s is None:
            self._send_file(meta, entry)
            return
        if entry.lfs:
            self._redirect_to_cdn(meta, entry)
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

    def _cdn_signature(self, repo_id: str, sha: str, filename: str, expires: str) -> str:
        message = f"{repo_id}/{sha}/{filename}:{expires}".encode()
        return hmac.new(self.app.cdn_key, message, hashlib.sha256).hexdigest()

    def _redirect_to_cdn(self, meta: RepoMeta, entry: RepoFile) -> None:
        """302 to the file's signed location, with the linked blob's size and ETag (what
        ``huggingface_hub`` reads off a redirect it does not follow)."""
        expires = str(int(self.app.clock() + (self.app.cdn_ttl_s or 0)))
        signature = self._cdn_signature(meta.id, meta.sha, entry.path, expires)
        query = urlencode({"Expires": expires, "Signature": signature})
        location = f"/cdn-lfs/models/{meta.id}/{meta.sha}/{quote(entry.path)}?{query}"
        body = f"Found. Redirecting to {location}".encode()
        headers = {
            "Location": location,
            "X-Repo-Commit": meta.sha,
            "X-Linked-Etag": f'"{entry.etag}"',
            "X-Linked-Size": str(entry.size),
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": str(len(body)),
        }
        self._headers_out(302, headers)
        self.app.stats.response(self._bucket, 302, 0 if self.command == "HEAD" else len(body))
        if self.command == "GET":
            self.wfile.write(body)

    def _cdn(
        self, repo_id: str, sha: str, filename: str, params: Mapping[str, Sequence[str]]
    ) -> None:
        """A signed location: serves the file (Range honoured) until it expires."""
        expires = (params.get("Expires") or [""])[-1]
        signature = (params.get("Signature") or [""])[-1]
        want = self._cdn_signature(repo_id, sha, filename, expires)
        if not hmac.compare_digest(signature, want):
            raise HttpError(403, "Request signature does not match", code="AccessDenied")
        if not expires.isdigit() or int(expires) < self.app.clock():
            raise HttpError(403, "Request has expired", code="AccessDenied")
        meta = self.app.store.get(repo_id)
        entry = meta.files.get(filename) if meta is not None and meta.sha == sha else None
        if meta is None or entry is None:
            raise HttpError(404, "Not Found", code="NoSuchKey")
        self._send_file(meta, entry)

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
            parsed = parse_range(range_header, size)
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


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
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
