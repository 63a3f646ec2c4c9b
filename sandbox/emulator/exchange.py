"""One request/response exchange with the emulator: gating, Hub headers, errors.

:class:`Exchange` is the base of the request handler: it reads the body, applies
the rate limit and the faults (scripted or drawn: 429 with or without requests
left, 5xx, connection reset, truncated body), and sends answers the way the Hub
does — ``Content-Length`` always, never compressed, the ``RateLimit`` headers on
every answer, errors as ``{"error": …}`` with ``X-Error-Code``.  It also looks repos
up as the Hub answers for them (renamed: a relative redirect; missing or private:
404 on the API, 401 on resolve).  The routes live in
:mod:`~kinhub.sandbox.emulator.api_routes` and
:mod:`~kinhub.sandbox.emulator.file_routes`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from kinhub.sandbox.emulator.app import EmulatorApp, EmulatorServer
from kinhub.sandbox.emulator.faults import Fault
from kinhub.sandbox.emulator.repo import RepoMeta
from kinhub.sandbox.emulator.stats import CDN_BUCKET

logger = logging.getLogger(__name__)


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


def one(params: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = params.get(key)
    return values[-1] if values else None


def flag(params: Mapping[str, Sequence[str]], key: str) -> bool:
    value = one(params, key)
    return value is not None and value.lower() in ("1", "true", "yes")


class Exchange(BaseHTTPRequestHandler):
    """Plumbing shared by the routes: per-request state, gating, sending, repo lookup."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait for
    # a delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True
    server: EmulatorServer
    server_version = "kinhub-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    @property
    def app(self) -> EmulatorApp:
        return self.server.app

    def _begin(self) -> bytes:
        """Reset the per-request state and read the body.  One handler instance serves
        every request of a keep-alive connection."""
        self._bucket = "api"
        self._truncate = False
        self._ratelimit_headers: dict[str, str] = {}
        self._headers_sent = False
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _gate(self) -> bool:
        """Apply rate limit and fault injection; False when the request was answered."""
        app = self.app
        # The CDN is not the Hub: no quota and no RateLimit headers there.
        decision = None if self._bucket == CDN_BUCKET else app.limiter.check(self._bucket)
        self._ratelimit_headers = decision.headers(self._bucket) if decision else {}
        if decision is not None and not decision.allowed:
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
        # Drawn faults are the Hub's (``fail_rate``); the CDN gets scripted ones only.
        faults = app.faults if self._bucket != CDN_BUCKET else None
        fault = faults.draw(allow_body_faults=self.command != "HEAD") if faults else None
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
        if status == 429 and decision is not None:
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
