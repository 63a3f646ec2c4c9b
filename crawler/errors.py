"""Errors the crawler package raises."""

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
