"""Checks that turn "nothing to answer from" into one typed error, shared by the read commands.

An empty database is a usage mistake (no crawl or ingest yet, or the wrong ``--db``),
not a model that is missing: the read commands (export, show, licenses, stats) say so
before they look anything up.
"""

from __future__ import annotations

from kinhub.db.errors import KinhubError
from kinhub.db.models import Model
from sqlalchemy import select
from sqlmodel import Session, col


class EmptyDatabaseError(KinhubError):
    """The database holds no models at all."""

    def __init__(self) -> None:
        super().__init__(
            "the database holds no models yet: run `kinhub crawl` (or `kinhub ingest`) "
            "first, or check --db"
        )


def require_models(session: Session) -> None:
    """Raise :class:`EmptyDatabaseError` when the ``model`` table is empty."""
    if session.execute(select(col(Model.id)).limit(1)).first() is None:
        raise EmptyDatabaseError()
