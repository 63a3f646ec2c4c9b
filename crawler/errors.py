"""Errors the crawler package raises on purpose (all subclass ``KinhubError``).

The parsers themselves never raise on bad *content*: they return what they could
read plus warnings.  Only failing to *read* an input is an error.
"""

from __future__ import annotations

from pathlib import Path

from kinhub.db.errors import KinhubError


class CrawlerError(KinhubError):
    """Base of the crawler's errors."""


class LocalModelError(CrawlerError):
    """A local model folder cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


class UnreadableInputError(CrawlerError, OSError):
    """A card or config file could not be read (missing, a directory, no permission)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path!r}: {reason}")
