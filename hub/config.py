"""Hub configuration, read from the environment at call time (never at import).

``huggingface_hub`` reads ``HF_ENDPOINT`` and the cache location once, when it is
imported; a process that changes them later (tests, the demo's own ``HF_HOME``, a
CLI option) would silently keep the old values.  kinhub therefore resolves them here,
each time they are needed, and always passes them to the client explicitly.

The token is deliberately not read here: kinhub passes ``token=None`` and lets
``huggingface_hub`` find ``HF_TOKEN`` or the saved login itself, so kinhub never
holds, prints, logs or stores it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kinhub.db.engine import Database

logger = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
ENV_ENDPOINT = "HF_ENDPOINT"
ENV_HOME = "HF_HOME"
ENV_HUB_CACHE = "HF_HUB_CACHE"
# Hosts whose account plans (anonymous/free/pro quotas) kinhub keeps to client-side.
PUBLIC_HUB_HOSTS = ("huggingface.co", "hf.co")


def endpoint(explicit: str | None = None) -> str:
    """``explicit``, else ``$HF_ENDPOINT``, else the public Hub; without a trailing slash."""
    chosen = explicit or os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT
    return chosen.rstrip("/")


def hf_home() -> Path:
    """``$HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``."""
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg).expanduser() / "huggingface"


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Where downloads are cached: ``explicit``, else ``$HF_HUB_CACHE``, else
    ``<HF_HOME>/hub`` (the same precedence ``huggingface_hub`` applies at import)."""
    if explicit is not None:
        return Path(explicit).expanduser()
    hub_cache = os.environ.get(ENV_HUB_CACHE)
    if hub_cache:
        return Path(hub_cache).expanduser()
    return hf_home() / "hub"


def is_public_hub(url: str | None) -> bool:
    """Whether ``url`` (None: the endpoint :func:`endpoint` resolves now) is the public
    Hub, whose plan quotas apply; an emulator, mirror or private Hub has its own."""
    host = (urlsplit(endpoint(url)).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in PUBLIC_HUB_HOSTS)


@dataclass(frozen=True)
class HubChoice:
    """The Hub a command reads and the plan whose quotas it keeps to.

    ``source`` says where the endpoint came from: ``option``, ``HF_ENDPOINT``,
    ``stored`` (the last crawl of the database) or ``default`` (huggingface.co);
    ``plan`` is None when neither given nor stored (anonymous quotas apply on the
    public Hub)."""

    endpoint: str
    plan: str | None
    source: str


def choose_hub(
    database: Database | None, *, endpoint: str | None = None, plan: str | None = None
) -> HubChoice:
    """The Hub to read the weights of ``database``'s models from.

    Endpoint: ``endpoint`` (an option), else ``$HF_ENDPOINT``, else the endpoint the
    database's last crawl stored, else huggingface.co.  Plan: ``plan``, else the
    stored plan when the chosen endpoint is the stored one, else None.
    """
    stored_url: str | None = None
    stored_plan: str | None = None
    if database is not None and not endpoint:
        from kinhub.db.settings import stored_hub
        from sqlalchemy.exc import SQLAlchemyError

        try:
            stored = stored_hub(database)
        except SQLAlchemyError as exc:  # a database from before the settings table
            logger.debug("no stored Hub endpoint: %s", exc)
        else:
            stored_url, stored_plan = stored.endpoint, stored.plan
    if endpoint:
        url, source = endpoint, "option"
    elif os.environ.get(ENV_ENDPOINT):
        url, source = os.environ[ENV_ENDPOINT], ENV_ENDPOINT
    elif stored_url:
        url, source = stored_url, "stored"
    else:
        url, source = DEFAULT_ENDPOINT, "default"
    url = url.rstrip("/")
    if plan is None and stored_url is not None and url == stored_url.rstrip("/"):
        plan = stored_plan
    return HubChoice(endpoint=url, plan=plan, source=source)


def endpoint_for(database: Database | None, explicit: str | None = None) -> str:
    """The endpoint :func:`choose_hub` picks: ``explicit``, else ``$HF_ENDPOINT``,
    else the database's stored crawl endpoint, else huggingface.co."""
    return choose_hub(database, endpoint=explicit).endpoint
