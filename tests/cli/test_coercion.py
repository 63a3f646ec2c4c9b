"""kinhub.cli.coercion: plain option values convert exactly as typer's own converter
does, without pydantic; everything else is typer's (same values, same errors)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import pytest
import typer
from kinhub.cli.coercion import plain_coercion
from kinhub.cli.common import Command
from typer.testing import CliRunner


class Colour(StrEnum):
    red = "red"
    dark_blue = "dark-blue"


seen: dict[str, Any] = {}


def show(
    name: Annotated[str, typer.Argument()],
    count: Annotated[int, typer.Option("--count", min=1, max=5)] = 2,
    wide: Annotated[int, typer.Option("--wide", min=0, max=3, clamp=True)] = 0,
    big: Annotated[int | None, typer.Option("--big")] = None,
    colour: Annotated[Colour, typer.Option("--colour")] = Colour.red,
    loud: Annotated[bool, typer.Option("--loud")] = False,
    ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
) -> None:
    seen.update(name=name, count=count, wide=wide, big=big, colour=colour, loud=loud, ratio=ratio)


def _app(*, plain: bool) -> typer.Typer:
    class Plain(Command):
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            if not plain:  # typer's converters only (skip Command's fast path)
                return super(Command, self).parse_args(ctx, args)
            return super().parse_args(ctx, args)

    app = typer.Typer()
    app.command(cls=Plain)(show)
    app.command("other", cls=Plain)(show)
    return app


CASES = [
    ["x"],
    ["x", "--count", "5", "--big", "-12345678901234", "--colour", "dark-blue", "--loud"],
    ["x", "--count", "0"],  # below min
    ["x", "--count", "07"],
    ["x", "--count", "+3"],
    ["x", "--count", "three"],
    ["x", "--wide", "9"],  # clamped
    ["x", "--colour", "green"],
    ["x", "--colour", "RED"],
    ["x", "--ratio", "2"],
    ["x", "--big", "1_000"],
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_same_result_as_typer(args: list[str]) -> None:
    runner = CliRunner()
    results = []
    for plain in (True, False):
        seen.clear()
        result = runner.invoke(_app(plain=plain), ["show", *args])
        results.append((result.exit_code, result.output, dict(seen)))
    assert results[0] == results[1]


def test_plain_parameters_get_the_fast_converter() -> None:
    command = typer.main.get_command(_app(plain=True))
    ctx = typer.Context(command)
    sub = command.get_command(ctx, "show")  # type: ignore[attr-defined]
    params = {p.name: p for p in sub.get_params(ctx)}
    plain_coercion(params.values())
    fast = {name for name, p in params.items() if p._runtime_param is not None}
    assert {"name", "count", "wide", "colour", "loud"} <= fast
    assert "ratio" not in fast  # a float: typer's converter
