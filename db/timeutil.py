"""UTC time helpers: every stored datetime is timezone-aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def to_utc(value: datetime | None) -> datetime | None:
    """Convert to aware UTC; naive input is taken as UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_hub_time(value: str | datetime | None) -> datetime | None:
    """Parse the Hub's ``YYYY-MM-DDTHH:MM:SS.fffZ`` (or any ISO 8601) into aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    try:
        return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|[smhd]?)", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_DURATION_S = 10 * 366 * 86400.0  # ten years: beyond it, a typo


def parse_duration(text: str) -> float:
    """Seconds in a duration: ``90``, ``90s``, ``30m``, ``2h``, ``1.5d``, ``500ms`` or
    a sum such as ``1h30m``; case and spaces do not matter.  The one parser of every
    duration kinhub reads (options and ``KINHUB_*_S`` variables).

    Raises:
        ValueError: not a duration, negative, or longer than ten years.
    """
    raw = text.strip()
    total = 0.0
    pos = 0
    while pos < len(raw):
        match = _DURATION_PART.match(raw, pos)
        if match is None or match.end() == pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
        pos = match.end()
        while pos < len(raw) and raw[pos].isspace():
            pos += 1
    if not raw or pos != len(raw):
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 30m, 2h, 1h30m, 3600)")
    if total > MAX_DURATION_S:
        raise ValueError(f"{text!r} is longer than ten years")
    return total
