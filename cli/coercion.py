"""Option values converted without pydantic where typer's answer is obvious.

typer (0.29) converts every option and argument value with a pydantic
``TypeAdapter``: the first command line that carries one imports pydantic and
builds the adapters, about 60 ms of ``kinhub lineage``'s start-up.  For the plain
cases kinhub uses — a ``str``, a ``bool``, an ``int`` inside its ``min``/``max``, a
member of an ``Enum`` or ``Literal`` choice — the answer is known without pydantic,
so :func:`plain_coercion` hands such parameters a converter that returns it
directly.  Anything else — another type, a custom parser, a file, several values,
an invalid value, a clamped range — goes to typer's own converter, so results and
error messages are typer's.

The hook uses typer's private converter API (``typer._coercion``,
``typer._param_types``): typer 0.29 has no public route around pydantic (a
``parser=`` is wrapped in a ``TypeAdapter`` too, there is no ``click_type=``, and its
click is the private, vendored ``typer._click``).  So ``pyproject.toml`` pins typer to
the tested minor range (:data:`TESTED_TYPER`), :func:`hook_problem` checks the shape
of everything the hook touches when kinhub starts — a typer that differs gets
typer's own converter (slower, same answers), never a broken command — and
``tests/cli/test_coercion.py`` fails, naming the typer version, while the hook is off.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, Literal, get_args, get_origin

TESTED_TYPER = "0.29"
"""The typer minor version the hook is written against (the pin in pyproject.toml)."""

_INT = re.compile(r"-?[0-9]+")
_NO = object()  # "not a plain case": typer decides

# What the hook relies on in typer's private API: name → the shape it must have.
_RUNTIME_PARAM_FIELDS = ["parameter_info", "annotation"]
_COERCE_VALUE_PARAMS = ["self", "value", "param", "ctx"]
_COERCE_CHOICE_PARAMS = ["value", "choices", "case_sensitive", "ctx"]
_DESCRIPTOR_FIELDS = {"annotation", "parameter_info", "file_annotation"}


try:  # typer's runtime coercion (0.29); private, so checked by _check_typer
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice
except ImportError as exc:  # pragma: no cover - another typer: its own converter
    RuntimeParam = None  # type: ignore[assignment,misc]
    _MISSING: str | None = f"typer's private converter API is missing ({exc})"
else:
    _MISSING = None


def _check_typer() -> str | None:
    """Why the hook cannot run with the installed typer, or None when everything it
    touches has the shape it was written against."""
    if _MISSING is not None:
        return _MISSING
    from typer.core import TyperArgument, TyperOption

    found = [f.name for f in dataclasses.fields(RuntimeParam)]
    if found != _RUNTIME_PARAM_FIELDS:
        return f"typer._coercion.RuntimeParam has fields {found}"
    descriptor = {f.name for f in dataclasses.fields(TypeDescriptor)}
    if not descriptor >= _DESCRIPTOR_FIELDS:
        return f"typer._coercion.TypeDescriptor has fields {sorted(descriptor)}"
    checks: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("typer._coercion.RuntimeParam._coerce_value", RuntimeParam._coerce_value,
         _COERCE_VALUE_PARAMS),
        ("typer._param_types.coerce_cli_choice", coerce_cli_choice, _COERCE_CHOICE_PARAMS),
        ("typer._coercion.build_runtime_param", build_runtime_param, ["descriptor"]),
    ]  # fmt: skip
    for name, function, expected in checks:
        params = list(inspect.signature(function).parameters)
        if params != expected:
            return f"{name} takes {params}, not {expected}"
    for cls in (TyperOption, TyperArgument):
        if not callable(getattr(cls, "get_runtime_param", None)):
            return f"typer.core.{cls.__name__} has no get_runtime_param"
    return None


_PROBLEM = _check_typer()


def hook_problem() -> str | None:
    """Why the pydantic-free converter is off with the installed typer, or None when on."""
    return _PROBLEM


def _choices(annotation: Any) -> tuple[Any, ...] | None:
    """The choices of an ``Enum`` or ``Literal`` annotation, else None."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(annotation)
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return None


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
    choices = _choices(annotation)
    if choices is not None:
        # typer's own choice matching (no pydantic in it); its errors go to typer.
        try:
            return coerce_cli_choice(
                value, choices=choices, case_sensitive=info.case_sensitive, ctx=ctx
            )
        except ValueError:
            return _NO
    return _NO


def _within(number: int, low: float | None, high: float | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


if _PROBLEM is None:

    @dataclasses.dataclass(frozen=True)
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
    if _PROBLEM is not None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", _NO) is not None:
            continue  # not a typer parameter, or its converter is already built
        info = descriptor.parameter_info
        plain_type = descriptor.annotation in (str, int, bool) or (
            _choices(descriptor.annotation) is not None
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
