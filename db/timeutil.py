"""UTC time helpers: every stored datetime is timezone-aware UTC."""

from __future__ import annotations

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
