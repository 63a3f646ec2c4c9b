"""Where kinhub keeps its data; environment variables are read here, at call time."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "KINHUB_DB"
ENV_HOME = "KINHUB_HOME"


def data_dir() -> Path:
    """The user's kinhub data directory (``$KINHUB_HOME``, else XDG data home)."""
    if home := os.environ.get(ENV_HOME):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "kinhub"


def default_sqlite_path() -> Path:
    """The SQLite file used when no database is named; the only one whose folders
    kinhub creates on its own (an explicit path with a typo must not)."""
    return data_dir() / "kinhub.db"


def default_database_url() -> str:
    """``$KINHUB_DB`` if set, else a SQLite file in :func:`data_dir`."""
    if url := os.environ.get(ENV_DB):
        return url
    return f"sqlite:///{default_sqlite_path()}"
