"""``kinhub emulator``: help text and option parsing."""

from __future__ import annotations

import pytest
import typer
from kinhub.cli.app import app
from kinhub.cli.emulator_cmd import _parse_rate
from typer.testing import CliRunner


def test_emulator_help() -> None:
    result = CliRunner().invoke(app, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--latency-ms", "--fail-rate", "--rate-limit"):
        assert option in result.output


def test_rate_limit_option() -> None:
    assert _parse_rate("500/300s") == (500, 300.0)
    assert _parse_rate("20") == (20, 300.0)
    assert _parse_rate(None) == (None, 300.0)
    with pytest.raises(typer.BadParameter):
        _parse_rate("lots")


def test_missing_directory_fails() -> None:
    result = CliRunner().invoke(app, ["emulator", "/nonexistent/snapshot"])
    assert result.exit_code != 0
