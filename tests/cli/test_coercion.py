"""kinhub.cli.coercion: plain option values convert exactly as typer's own converter
does, without pydantic; everything else is typer's (same values, same errors).

The hook uses typer's private converter API, so typer is pinned to one minor
version; the guards here fail, naming the typer version, when a typer upgrade
removes or reshapes what the hook touches (the CLI then still works, with
typer's slower converter).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import typer
from kinhub.cli import coercion
from kinhub.cli.coercion import TESTED_TYPER, hook_problem, plain_coercion
from kinhub.cli.common import Command
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
UPGRADE = (
    f"kinhub.cli.coercion is written against typer {TESTED_TYPER}.x's private converter "
    f"API and typer {typer.__version__} is installed: re-check the hook against this typer, "
    "then move TESTED_TYPER and the typer pin in pyproject.toml together"
)


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
    shade: Annotated[Literal["light", "dark-grey"], typer.Option("--shade")] = "light",
    loud: Annotated[bool, typer.Option("--loud")] = False,
    ratio: Annotated[float, typer.Option("--ratio")] = 0.5,
) -> None:
    seen.update(
        name=name, count=count, wide=wide, big=big, colour=colour, shade=shade, loud=loud,
        ratio=ratio,
    )  # fmt: skip


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
    ["x", "--shade", "dark-grey"],
    ["x", "--shade", "Dark"],
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
    assert {"name", "count", "wide", "colour", "shade", "loud"} <= fast
    assert "ratio" not in fast  # a float: typer's converter


# ---------------------------------------------------------------- the typer pin and its guard


def test_installed_typer_is_the_tested_minor() -> None:
    assert typer.__version__.startswith(f"{TESTED_TYPER}."), UPGRADE


def test_typer_pin_is_the_tested_minor() -> None:
    """pyproject.toml pins typer to TESTED_TYPER's minor range, so moving one means
    moving the other (and re-checking the hook)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if d.replace(" ", "").startswith("typer>")]
    major, minor = TESTED_TYPER.split(".")
    assert len(pins) == 1, project["dependencies"]
    lower, upper = pins[0].replace(" ", "").removeprefix("typer").split(",")
    assert lower.startswith(f">={TESTED_TYPER}") and upper == f"<{major}.{int(minor) + 1}", pins


def test_typer_hook_targets_have_their_shape() -> None:
    assert hook_problem() is None, f"{UPGRADE}: {hook_problem()}"


def test_a_reshaped_typer_turns_the_hook_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up check sees a changed private API (and the command falls back to
    typer's converter instead of breaking)."""

    @dataclasses.dataclass(frozen=True)
    class Reshaped(coercion.RuntimeParam):  # type: ignore[misc]
        strict: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return value

    monkeypatch.setattr(coercion, "RuntimeParam", Reshaped)
    assert "RuntimeParam has fields" in (coercion._check_typer() or "")
    monkeypatch.setattr(coercion, "_MISSING", "typer's private converter API is missing")
    assert coercion._check_typer() == "typer's private converter API is missing"


def test_the_hook_keeps_pydantic_out() -> None:
    """End to end in a fresh interpreter: plain values of every kind convert and
    pydantic is never imported (typer's own converter would import it)."""
    script = textwrap.dedent(
        """
        import sys
        from enum import StrEnum
        from typing import Annotated, Literal

        import typer
        from kinhub.cli.common import Command, Group

        class Colour(StrEnum):
            red = "red"

        def show(
            name: Annotated[str, typer.Argument()],
            count: Annotated[int, typer.Option("--count", min=1)] = 1,
            colour: Annotated[Colour, typer.Option("--colour")] = Colour.red,
            shade: Annotated[Literal["light", "dark"], typer.Option("--shade")] = "light",
            loud: Annotated[bool, typer.Option("--loud")] = False,
        ) -> None:
            print(name, count, colour.value, shade, loud, "pydantic" in sys.modules)

        app = typer.Typer(cls=Group, add_completion=False)
        app.command(cls=Command)(show)
        app.command("other", cls=Command)(show)
        app()
        """
    )
    args = ["show", "x", "--count", "3", "--colour", "red", "--shade", "dark", "--loud"]
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["x", "3", "red", "dark", "True", "False"], (
        f"{UPGRADE}: {proc.stdout}"
    )


def test_usage_errors_are_the_vendored_clicks() -> None:
    """``cli.common`` catches typer's vendored click ``UsageError`` (typer exports none)
    to print usage errors in one line; a typer that moves it must fail here, loudly."""
    from kinhub.cli import common

    assert issubclass(typer.BadParameter, common.UsageError), UPGRADE
    assert issubclass(common.NoArgsIsHelpError, common.UsageError), UPGRADE
