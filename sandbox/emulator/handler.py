"""HTTP routes of the Hub emulator (stdlib ``http.server``, HTTP/1.1 keep-alive).

Every request is counted in a bucket (``api``; ``resolve`` for ``/resolve/`` and
``/api/resolve-cache/``, the Hub's *resolvers* quota; ``pages`` for anything else),
then delayed, rate limited and possibly faulted, then routed: the Hub API to
:class:`~kinhub.sandbox.emulator.api_routes.ApiRoutes`, file reads to
:class:`~kinhub.sandbox.emulator.file_routes.FileRoutes`.  Every answer carries
the Hub's ``RateLimit``/``RateLimit-Policy`` headers (policies ``api``,
``resolvers``, ``pages``).  ``/_emulator/*`` (stats, reset, reload) skips all of
that.  Responses always carry ``Content-Length`` and are never compressed.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

from kinhub.sandbox.emulator.api_routes import ApiRoutes
from kinhub.sandbox.emulator.errors import BadRequestError
from kinhub.sandbox.emulator.exchange import HttpError
from kinhub.sandbox.emulator.file_routes import FileRoutes
from kinhub.sandbox.emulator.stats import CDN_BUCKET

logger = logging.getLogger(__name__)

_PART = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_RESOLVE = re.compile(rf"^/(?:models/)?({_PART})/({_PART})/resolve/([^/]+)/(.+)$")
# Where the Hub's resolve answers 307 for small (non-LFS) files; the HEAD and GET that
# follow count against the resolvers quota as well.
_RESOLVE_CACHE = re.compile(rf"^/api/resolve-cache/models/({_PART})/({_PART})/([^/]+)/(.+)$")
# The signed, expiring location a large file's resolve redirects to (the Hub's CDN).
_CDN = re.compile(rf"^/cdn-lfs/models/({_PART})/({_PART})/([^/]+)/(.+)$")
_INFO = re.compile(rf"^/api/models/({_PART})/({_PART})(?:/revision/([^/]+))?/?$")
_TREE = re.compile(rf"^/api/models/({_PART})/({_PART})/tree/([^/]+)(?:/(.*))?$")
_PATHS_INFO = re.compile(rf"^/api/models/({_PART})/({_PART})/paths-info/([^/]+)$")
_REFS = re.compile(rf"^/api/models/({_PART})/({_PART})/refs$")


class HubRequestHandler(ApiRoutes, FileRoutes):
    """One connection; routes Hub API, resolve and ``/_emulator`` requests."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        body = self._begin()
        split = urlsplit(self.path)
        params = parse_qs(split.query, keep_blank_values=True)
        path = split.path
        try:
            if path.startswith("/_emulator/"):
                self._emulator_route(path)
                return
            if _CDN.match(path):
                self._bucket = CDN_BUCKET
            elif _RESOLVE.match(path) or _RESOLVE_CACHE.match(path):
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
        if m := _CDN.match(path):
            self._cdn(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4]), params)
        elif m := _RESOLVE.match(path):
            self._resolve(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4]))
        elif m := _RESOLVE_CACHE.match(path):
            self._resolve_cache(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4]))
        elif path.rstrip("/") == "/api/models":
            self._list_models(params)
        elif m := _TREE.match(path):
            self._tree(f"{m[1]}/{m[2]}", unquote(m[3]), unquote(m[4] or "").strip("/"), params)
        elif m := _REFS.match(path):
            self._refs(f"{m[1]}/{m[2]}")
        elif m := _INFO.match(path):
            rev = unquote(m[3]) if m[3] else None
            self._model_info(f"{m[1]}/{m[2]}", rev, params)
        else:
            raise HttpError(404, f"Sorry, we can't find the page you are looking for ({path}).")
