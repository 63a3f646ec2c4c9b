"""Every command documents itself, and its help reads well at 80 and 120 columns."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from itertools import pairwise
from typing import Any

import pytest
import typer.main
from kinhub.cli.app import app
from typer.testing import CliRunner


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Typer ships its own click; groups are recognised by their sub-commands.
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
    return found


def _all_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    return _commands(root)


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    commands = _all_commands()
    assert ("lineage",) in commands and ("ingest",) in commands and ("db", "upgrade") in commands
    runner = CliRunner()
    for path in commands:
        command: Any
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        command = root
        for name in path:
            command = command.commands[name]
        assert (command.help or command.short_help or "").strip(), f"{' '.join(path)} has no help"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"kinhub {version('kinhub')}"


# Commands converted to the shared help conventions (the others follow).
CONVERTED = [
    (),
    ("crawl",),
    ("schedule",),
    ("demo",),
    ("lineage",),
    ("ingest",),
    ("parse",),
    ("emulator",),
]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("path", CONVERTED, ids=lambda p: " ".join(p) or "kinhub")
def test_help_has_no_placeholders_or_ragged_lines(path: tuple[str, ...], columns: int) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    text = result.output
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # arguments as MODEL / [MODEL], not {model}
    assert "<bool>" not in text and "<int>  -v" not in text
    assert not re.search(r"-v\s+<int>", text)
    # Prose is reflowed to the terminal: no line of the description ends far
    # short of the width while the next one continues the same paragraph.
    lines = [line.rstrip() for line in text.splitlines()]
    ragged = [
        (a, b)
        for a, b in pairwise(lines)
        if a.startswith(" ")
        and not a.lstrip().startswith(("•", "│", "╭", "╰", "*"))
        and b.strip()
        and not b.lstrip().startswith(("•", "│", "╭", "╰", "*"))
        and b.startswith(" ")
        and len(a) + len(b.split()[0]) + 1 < columns - 8
        and len(a.strip()) > 20
    ]
    assert ragged == [], ragged


def test_schedule_takes_model_like_crawl() -> None:
    runner = CliRunner()
    for path in (("crawl",), ("schedule",)):
        text = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"}).output
        assert f"{path[0]} [OPTIONS] [MODEL]" in text, text


def test_python_m_entry_point_prints_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kinhub.cli", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"kinhub {version('kinhub')}"
