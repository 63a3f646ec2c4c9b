"""Every command documents itself."""

from __future__ import annotations

from typing import Any

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


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    commands = _commands(root)
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
