"""The one duration syntax of every option that takes a duration (``--time-budget``,
``--lease``, ``--kinship-budget``, ``--retry-base-delay``, the emulator's
``--rate-limit N/WINDOW``): ``90``, ``90s``, ``30m``, ``2h``, ``1.5d``, ``500ms``,
``1h30m`` (:func:`kinhub.db.timeutil.parse_duration`)."""

from __future__ import annotations

import typer
from kinhub.db.timeutil import parse_duration as _parse

DURATION_HELP = "`90s`, `30m`, `2h`, `1h30m` or seconds"


def parse_duration(text: str, *, option: str | None = None, positive: bool = False) -> float:
    """Seconds in ``text``; a usage error naming ``option`` when it is not a duration
    (or is zero while ``positive``).

    Raises:
        typer.BadParameter: not a duration.
    """
    try:
        seconds = _parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc
    if positive and seconds <= 0:
        raise typer.BadParameter(f"{text!r}: must be longer than 0", param_hint=option)
    return seconds


def optional_duration(text: str | None, *, option: str, positive: bool = False) -> float | None:
    """:func:`parse_duration` of an option that may be absent (None stays None)."""
    return None if text is None else parse_duration(text, option=option, positive=positive)


__all__ = ["DURATION_HELP", "optional_duration", "parse_duration"]
