"""Typed errors of the Hub emulator."""

from __future__ import annotations

from db.errors import KinhubError


class EmulatorError(KinhubError):
    """The Hub emulator could not start or serve."""


class BadRequestError(EmulatorError, ValueError):
    """A request the emulator refuses with HTTP 400 (bad sort, expand or cursor)."""
