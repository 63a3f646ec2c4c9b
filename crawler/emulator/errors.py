"""Typed errors of the Hub emulator (part of the crawler's error tree)."""

from __future__ import annotations

from crawler.errors import CrawlerError


class EmulatorError(CrawlerError):
    """The Hub emulator could not start or serve."""


class BadRequestError(EmulatorError, ValueError):
    """A request the emulator refuses with HTTP 400 (bad sort, expand or cursor)."""
