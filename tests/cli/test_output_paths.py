"""Output paths are checked before any work: one line on stderr, exit 1, no traceback.

The model and pool named here are not in the database: before the check, the commands
went to work first (and failed on that, or measured for minutes); now the path is
refused first, so the answer names the path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.cli.paths import OutputPathError, check_output_dir, check_output_file
from typer.testing import CliRunner

runner = CliRunner()


def _cases(tmp: Path) -> list[tuple[list[str], str]]:
    existing = tmp / "a-file"
    existing.write_text("keep me\n")
    missing = str(tmp / "missing-dir" / "x.yml")
    return [
        (["partners", "org/model", "--emit-config", "slerp", "-o", missing], "no folder"),
        (["partners", "org/model", "--emit-config", "slerp", "-o", str(tmp)], "it is a folder"),
        (["plan", "org/a", "org/b", "--out", "/proc/kinhub-x"], "cannot create files in /proc"),
        (["plan", "org/a", "org/b", "--out", str(existing)], "it is a file, not a folder"),
        (["analyze", "gain", "--plot", "/proc/kinhub-x.png"], "cannot create files in /proc"),
        (["export", "--format", "dot", "-o", "/proc/kinhub-x.dot"], "cannot create files in /proc"),
    ]  # fmt: skip


def test_output_paths_are_refused_first(database_url: str, tmp_path: Path) -> None:
    for args, reason in _cases(tmp_path):
        result = runner.invoke(app, ["--db", database_url, *args])
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot write"), (args, lines)
        assert reason in lines[0], (args, lines)
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (tmp_path / "a-file").read_text() == "keep me\n"
    assert not (tmp_path / "missing-dir").exists()


def test_check_output_file_and_dir(tmp_path: Path) -> None:
    existing = tmp_path / "old.yml"
    existing.write_text("x")
    assert check_output_file(existing, option="-o") == existing
    assert existing.read_text() == "x"  # checked, not truncated
    assert check_output_file(tmp_path / "new.yml", option="-o") == tmp_path / "new.yml"
    deep = tmp_path / "a" / "b" / "plot.png"
    assert check_output_file(deep, option="--plot", make_parents=True) == deep
    with pytest.raises(OutputPathError, match="no folder"):
        check_output_file(deep, option="--plot")
    assert check_output_dir(tmp_path / "new" / "dir", option="--out") == tmp_path / "new" / "dir"
    assert list(tmp_path.iterdir()) == [existing]  # nothing made, no probe left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro.yml"
    ro.write_text("x")
    ro.chmod(0o444)
    with pytest.raises(OutputPathError, match=r"ro\.yml"):
        check_output_file(ro, option="-o")
