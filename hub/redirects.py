"""Following the Hub's redirects by hand, one hop at a time.

A file on the Hub answers ``/resolve/`` with a 307 to ``/api/resolve-cache/…``
(small files) or a 302 to a signed CDN location on another host (large files), and a
renamed repo answers a 30x to its new name (HUB_PROTOCOL.md).  Following them by hand
rather than letting the session do it lets the client count every hop on the Hub
against the resolver bucket (the CDN's do not count), send credentials to the Hub
only, and look at each redirect before taking it: its ETag names the file's blob,
which the caller may already have.  The client's HTTP session (``huggingface_hub``'s,
with its hooks) is passed in; nothing here sends a request on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx2
from kinhub.hub import blobs

MAX_HOPS = 5


def get_following(
    session: httpx2.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    on_hub_hop: Callable[[], None],
    known_blob: str | None = None,
) -> httpx2.Response | None:
    """GET ``url``, then each redirect it answers, up to ``MAX_HOPS`` of them.

    ``on_hub_hop`` runs before each hop on ``url``'s host (the client acquires its
    resolver limiter and counts the request there); hops elsewhere go without
    credentials.  Returns None as soon as a redirect names ``known_blob``, else the
    last answer (still a redirect when there were too many).
    """
    origin = httpx2.URL(url)
    response = session.get(url, headers=headers, follow_redirects=False, timeout=timeout)
    for _ in range(MAX_HOPS):
        if not response.has_redirect_location:
            break
        target = response.url.join(response.headers["Location"])
        if known_blob is not None:
            named = blobs.etag_of(response.headers, fallback=target.params.get("etag"))
            if named == known_blob:
                return None
        hop_headers = headers
        if target.host != origin.host or target.port != origin.port:
            # Off the Hub (a CDN): no credentials, and not a resolver request.
            hop_headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        else:
            on_hub_hop()
        response = session.get(target, headers=hop_headers, follow_redirects=False, timeout=timeout)
    return response
