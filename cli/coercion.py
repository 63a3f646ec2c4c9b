"""Option values converted without pydantic where typer's answer is obvious.

typer (0.2x) converts every option and argument value with a pydantic
``TypeAdapter``: the first command line that carries one imports pydantic and
builds the adapters, about a tenth of a second of start-up for ``kinhub
lineage`` — a quarter of the whole command.  For the plain cases kinhub uses —
a ``str``, a ``bool``, an ``int`` inside its ``min``/``max``, a member of an
``Enum`` choice — the answer is known without pydantic, so :func:`plain_coercion` hands
such parameters a converter that returns it directly.  Anything else — another
type, a custom parser, a file, several values, an invalid value, a clamped
range — goes to typer's own converter, so results and error messages are
typer's.  With a typer that has no such converter this does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

_INT = re.compile(r"-?[0-9]+")
_NO = object()  # "not a plain case": typer decides

try:  # typer's runtime coercion (0.2x); private, so optional
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice
except ImportError:  # pragma: no cover - other typer versions convert without pydantic
    RuntimeParam = None  # type: ignore[assignment,misc]


def _plain(annotation: Any, info: Any, value: Any, ctx: Any) -> Any:
    """The converted value when it is a plain case, else ``_NO``."""
    if annotation is str:
        return value if isinstance(value, str) else _NO
    if annotation is bool:
        return value if isinstance(value, bool) else _NO
    if annotation is int:
        if isinstance(value, str) and _INT.fullmatch(value):
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            return _NO
        if info.clamp or not _within(number, info.min, info.max):
            return _NO
        return number
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        # typer's own choice matching (no pydantic in it); its errors go to typer.
        try:
            return coerce_cli_choice(
                value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError:
            return _NO
    return _NO


def _within(number: int, low: float | None, high: float | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainRuntimeParam(RuntimeParam):
        """Plain values directly; everything else through typer's converter."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            found = _plain(self.annotation, self.parameter_info, value, ctx)
            if found is not _NO:
                return found
            typer_own = build_runtime_param(param.type_descriptor)
            param._runtime_param = typer_own  # built once, used from now on
            return typer_own._coerce_value(value, param=param, ctx=ctx)


def plain_coercion(params: Iterable[Any]) -> None:
    """Give each plain, not yet converted parameter the pydantic-free converter."""
    if RuntimeParam is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", _NO) is not None:
            continue  # not a typer parameter, or its converter is already built
        info = descriptor.parameter_info
        plain_type = descriptor.annotation in (str, int, bool) or (
            isinstance(descriptor.annotation, type) and issubclass(descriptor.annotation, Enum)
        )
        if (
            not plain_type
            or descriptor.file_annotation is not None
            or info.parser is not None
            or param.multiple
            or param.nargs != 1
        ):
            continue
        param._runtime_param = _PlainRuntimeParam(
            parameter_info=info, annotation=descriptor.annotation
        )
