"""Usage errors answer with one line on stderr and exit code 2, on every command:
no usage box, no traceback (one mechanism, in :class:`kinhub.cli.common.Group`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinhub.cli.app import app
from typer.testing import CliRunner

runner = CliRunner()

CASES = [
    (["lineage", "some/model", "--depth", "-1"], "--depth", "kinhub lineage --help"),
    (["partners", "some/model", "--top", "0"], "--top", "kinhub partners --help"),
    (["plan", "a/b", "c/d", "--k", "1"], "--k", "kinhub plan --help"),
    (["emulator", "/missing/folder"], "/missing/folder", "kinhub emulator --help"),
    (["worker", "--time-budget", "banana"], "banana", "kinhub worker --help"),
    (["export", "--format", "svg"], "svg", "kinhub export --help"),
    (["jobs", "retry", "--bogus"], "--bogus", "kinhub jobs retry --help"),
    (["--no-such-root-option"], "--no-such-root-option", "kinhub --help"),
    (["no-such-command"], "no-such-command", "kinhub --help"),
]


@pytest.mark.parametrize(("args", "names", "help_hint"), CASES, ids=lambda c: str(c))
def test_usage_error_is_one_line_exit_2(
    args: list[str], names: str, help_hint: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["--db", f"sqlite:///{tmp_path / 'k.db'}", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert names in lines[0] and help_hint in lines[0]
    assert "Usage:" not in result.stderr and "╭" not in result.stderr
    assert result.stdout == ""


def test_no_arguments_still_show_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage: kinhub" in result.output


@pytest.mark.parametrize("name", ["a/[/x]", "a/[bold]x", "a/[red]b[/red]"])
def test_errors_naming_user_input_print_it_as_typed(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n")
    db = ["--db", f"sqlite:///{tmp_path / 'k.db'}"]
    assert runner.invoke(app, [*db, "ingest", str(folder), "--repo-id", "org/m"]).exit_code == 0
    result = runner.invoke(app, [*db, "show", name])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == f"error: model {name!r} is not in the database"
