"""The process's one Hub client per endpoint, for everything that reads the Hub
outside a crawl (kinship reads, fingerprints): sharing a client shares its rate
limiters, so parallel readers stay inside one quota together."""

from __future__ import annotations

import threading

from kinhub.hub import config
from kinhub.hub.client import HubClient

_SHARED: dict[str, HubClient] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(endpoint: str | None = None) -> HubClient:
    """The process's one client for ``endpoint`` (``HF_ENDPOINT`` read now if None).

    Anonymous-plan quotas, default retries; the token is found by ``huggingface_hub``.
    """
    url = config.endpoint(endpoint)
    with _SHARED_LOCK:
        client = _SHARED.get(url)
        if client is None:
            client = _SHARED[url] = HubClient(endpoint=url)
        return client
