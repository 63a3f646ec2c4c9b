"""Database-wide settings: what a later process must know about an earlier one.

Two uses.  The Hub a crawl read: a crawl stores its endpoint and plan
(:func:`remember_hub`), and the worker, ``partners --compute``, ``plan`` and
``kinship`` read the weights of the crawled models from that Hub when they are not
told another one (:func:`stored_hub`; the precedence is
``kinhub.hub.config.endpoint_for``).  An endpoint is stored without user info, query
or fragment, so no credential written into a URL is ever kept; tokens are never
stored at all.  And the folder a model given to ``kinhub ingest`` was read from
(:func:`remember_local_folder`): the worker reads that model's weights there — a path
the user gave on the command line, never one that came from a crawled card.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from kinhub.db.engine import Database
from kinhub.db.models import Setting
from kinhub.db.timeutil import utcnow
from sqlmodel import Session, col, select

HUB_ENDPOINT = "hub.endpoint"
HUB_PLAN = "hub.plan"
LOCAL_FOLDER = "local.folder:"  # + repo id: the folder `kinhub ingest` read it from
MAX_VALUE = 8000


@dataclass(frozen=True)
class StoredHub:
    """The Hub endpoint and plan of the last crawl (None: never stored)."""

    endpoint: str | None = None
    plan: str | None = None


def shown_endpoint(url: str) -> str:
    """``url`` as it may be shown or logged: without user info, query or fragment."""
    try:
        return clean_endpoint(url)
    except ValueError:
        return "(an endpoint that is not an http(s) URL)"


def clean_endpoint(url: str) -> str:
    """``url`` without user info, query or fragment, nor a trailing slash: what may be
    stored and shown.

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    cleaned = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if len(cleaned) > MAX_VALUE:
        raise ValueError("URL too long")
    return cleaned


def get_setting(session: Session, name: str) -> str | None:
    row = session.get(Setting, name)
    return None if row is None else row.value


def set_setting(session: Session, name: str, value: str) -> None:
    """Store ``name = value`` (replacing any earlier value).  Does not commit."""
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(name=name, value=value[:MAX_VALUE]))
    else:
        row.value = value[:MAX_VALUE]
        row.updated_at = utcnow()
    session.flush()


def remember_hub(session: Session, *, endpoint: str, plan: str | None) -> None:
    """Store the Hub a crawl reads (its URL cleaned by :func:`clean_endpoint`) and,
    when given, its plan.  Does not commit.

    Raises:
        ValueError: ``endpoint`` is not an http(s) URL.
    """
    set_setting(session, HUB_ENDPOINT, clean_endpoint(endpoint))
    if plan is not None:
        set_setting(session, HUB_PLAN, plan)


def remember_local_folder(session: Session, *, repo_id: str, folder: str) -> None:
    """Store that ``repo_id`` was ingested from ``folder`` (an absolute path the user
    gave ``kinhub ingest``; never a path from a crawled card).  Does not commit."""
    set_setting(session, LOCAL_FOLDER + repo_id, folder)


def forget_local_folder(session: Session, *, repo_id: str) -> None:
    """``repo_id`` is no longer read from a local folder.  Does not commit."""
    row = session.get(Setting, LOCAL_FOLDER + repo_id)
    if row is not None:
        session.delete(row)
        session.flush()


def local_folders(session: Session, repo_ids: Iterable[str]) -> dict[str, str]:
    """The ingest folder of each of ``repo_ids`` that has one."""
    names = {LOCAL_FOLDER + r: r for r in repo_ids}
    if not names:
        return {}
    rows = session.exec(select(Setting).where(col(Setting.name).in_(list(names))))
    return {names[row.name]: row.value for row in rows}


def stored_hub(database: Database) -> StoredHub:
    """The Hub endpoint and plan the last crawl stored (both None if none did)."""
    with database.session() as session:
        return StoredHub(
            endpoint=get_setting(session, HUB_ENDPOINT), plan=get_setting(session, HUB_PLAN)
        )


def stored_endpoint(database: Database) -> str | None:
    """The Hub endpoint the last crawl stored, or None."""
    return stored_hub(database).endpoint


__all__ = [
    "HUB_ENDPOINT",
    "HUB_PLAN",
    "LOCAL_FOLDER",
    "StoredHub",
    "clean_endpoint",
    "forget_local_folder",
    "get_setting",
    "local_folders",
    "remember_hub",
    "remember_local_folder",
    "set_setting",
    "stored_endpoint",
    "stored_hub",
]
