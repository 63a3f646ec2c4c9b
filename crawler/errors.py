"""Errors the crawler package raises on purpose (all subclass ``KinhubError``).

The parsers themselves never raise on bad *content*: they return what they could
read plus warnings.  Only failing to *read* an input is an error.
"""

from __future__ import annotations

from pathlib import Path

from db.errors import KinhubError


class CrawlerError(KinhubError):
    """Base of the crawler's errors."""


class LocalModelError(CrawlerError):
    """A local model folder cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


class HubError(CrawlerError):
    """The Hub could not be reached or kept failing after every retry."""

    def __init__(self, message: str, *, repo_id: str | None = None) -> None:
        self.repo_id = repo_id
        super().__init__(f"{repo_id}: {message}" if repo_id else message)


class RepoUnavailableError(HubError):
    """A repo (or one of its files) cannot be read; ``status`` is what the db records.

    ``status`` is one of ``not_found``, ``gated``, ``private`` or ``error``.
    """

    def __init__(self, repo_id: str, status: str, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}", repo_id=repo_id)


class UnreadableInputError(CrawlerError, OSError):
    """A card or config file could not be read (missing, a directory, no permission)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path!r}: {reason}")
