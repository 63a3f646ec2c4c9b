"""Every table view is readable at 80 columns and shows "—" (or nothing) for a missing
value, never ``None`` (issue 17): each table command on a crawled and measured
database, both backends."""

from __future__ import annotations

import json

import pytest
from kinhub.cli.app import app
from typer.testing import CliRunner

from tests.cli.test_partners_cmd import hub_root, url  # noqa: F401  (fixtures)

runner = CliRunner()

COMMANDS = [
    ("stats",),
    ("show", "fam/ft-a"),
    ("show", "fam/base"),
    ("lineage", "fam/ft-a", "--both"),
    ("licenses", "fam/ft-a"),
    ("partners", "fam/ft-a", "--top", "8"),
    ("partners", "fam/ft-a", "--strategy", "balanced", "--compute", "none"),
    ("jobs",),
    ("jobs", "--status", "done"),
    ("db", "runs"),
    ("db", "info"),
    ("analyze", "gain", "--metric", "all"),
    ("plan", "fam/ft-a", "fam/ft-b", "fam/ft-c", "--k", "2", "--compute", "none"),
    ("kinship", "fam/ft-a", "fam/ft-b", "--base", "fam/base", "--sample", "0.5"),
]


def _kinhub(db: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", db, *args])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout + result.stderr


def test_every_table_fits_80_columns(
    url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _kinhub(url, "partners", "fam/ft-a", "--top", "8")  # measure: kinship rows and jobs
    _kinhub(url, "worker", "--until-empty")
    too_wide: dict[str, list[str]] = {}
    nones: list[str] = []
    for args in COMMANDS:
        out = _kinhub(url, *args)
        wide = [line for line in out.splitlines() if len(line) > 80]
        if wide:
            too_wide[" ".join(args)] = wide
        if "None" in out:
            nones.append(" ".join(args))
    assert not too_wide, json.dumps(too_wide, indent=1, ensure_ascii=False)
    assert not nones
    assert "–" not in " ".join(_kinhub(url, *COMMANDS[-2]).split())  # missing reads "—"


def test_missing_values_show_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A metric without a value (undefined pcc and ed, no interval) reads "—", not None."""
    from kinhub.cli.render import print_kinship

    monkeypatch.setenv("COLUMNS", "80")
    print_kinship(
        {
            "a": "org/a",
            "b": "org/b",
            "base": "org/base",
            "mode": "sampled",
            "metrics": {"cs": 0.5, "pcc": None, "ed": None},
            "intervals": {"cs": {"low": 0.4, "high": 0.6}},
            "params_compared": 10,
            "bytes_read": 100,
            "seconds": 0.1,
        }
    )
    text = capsys.readouterr().out
    assert "None" not in text
    assert text.count("—") == 2
    assert max(len(line) for line in text.splitlines()) <= 80
