"""Typed errors of the Hub emulator (a kinhub error)."""

from __future__ import annotations

from kinhub.db.errors import KinhubError


class EmulatorError(KinhubError):
    """The Hub emulator could not start or serve."""


class BadRequestError(EmulatorError, ValueError):
    """A request the emulator refuses with HTTP 400 (bad sort, expand or cursor)."""
