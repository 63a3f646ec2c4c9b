"""Errors the crawler package raises on purpose (all subclass ``KinhubError``).

The parsers themselves never raise on bad *content*: they return what they could
read plus warnings.  Only failing to *read* an input is an error.
"""

from __future__ import annotations

from db.errors import KinhubError


class UnreadableInputError(KinhubError, OSError):
    """A card or config file could not be read (missing, a directory, no permission)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path!r}: {reason}")
