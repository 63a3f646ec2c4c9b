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

import os
from pathlib import Path

DEFAULT_ENDPOINT = "https://huggingface.co"
ENV_ENDPOINT = "HF_ENDPOINT"
ENV_HOME = "HF_HOME"
ENV_HUB_CACHE = "HF_HUB_CACHE"


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
