"""`kinhub db info|upgrade|runs|reparse`, and one-line errors for unusable databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.crawler import version
from kinhub.db.crawl_state import finish_run, record_run, start_run
from kinhub.db.engine import head_revision, open_database
from kinhub.sandbox.hub import generate_hub
from typer.testing import CliRunner

runner = CliRunner()

NO_SUCH_DB = "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/no_such_db_xyz"
CLOSED_PORT = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/kinhub"


def _ok(url: str, *args: str) -> str:
    result = runner.invoke(app, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("url", [NO_SUCH_DB, CLOSED_PORT], ids=["no-database", "closed-port"])
@pytest.mark.parametrize(
    "command",
    [("db", "info"), ("db", "upgrade"), ("db", "runs"), ("lineage", "org/model")],
    ids=" ".join,
)
def test_unusable_postgres_is_one_line(
    postgres_server: str, url: str, command: tuple[str, ...]
) -> None:
    result = runner.invoke(app, ["--db", url, *command])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot open database postgresql+psycopg://postgres:***@")
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


def test_explicit_sqlite_path_in_a_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    for command in (("db", "info"), ("lineage", "org/model")):
        result = runner.invoke(app, ["--db", f"sqlite:///{missing / 'x.db'}", *command])
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"error: cannot open database sqlite:///{missing / 'x.db'}: "
            f"folder {missing} does not exist"
        )
    assert not (tmp_path / "no").exists()


def test_info_and_upgrade(database_url: str) -> None:
    before = json.loads(_ok(database_url, "db", "info", "--format", "json"))
    assert (before["revision"], before["up_to_date"]) == (None, False)
    upgraded = json.loads(_ok(database_url, "db", "upgrade", "--format", "json"))
    assert upgraded["revision"] == upgraded["head"] == head_revision()
    info = json.loads(_ok(database_url, "db", "info", "--format", "json"))
    assert info["up_to_date"] is True
    assert info["backend"] == database_url.split(":")[0].split("+")[0]
    assert "database" in _ok(database_url, "db", "info")  # the table


def test_runs(database_url: str) -> None:
    assert json.loads(_ok(database_url, "db", "runs", "--format", "json")) == []
    database = open_database(database_url)
    with database.session() as session:
        record_run(session, kind="crawl", scope="merges", status="ok", counts={"new": 3})
        run_id = start_run(session, kind="schedule", scope="full")
        finish_run(session, run_id, status="failed", counts={}, error="boom")
        start_run(session, kind="crawl", scope="full")
    database.dispose()
    rows = json.loads(_ok(database_url, "db", "runs", "--format", "json"))
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("crawl", "running"),
        ("schedule", "failed"),
        ("crawl", "ok"),
    ]
    assert set(rows[0]) == {
        "id", "kind", "scope", "status", "started", "finished", "counts", "error"
    }  # fmt: skip
    assert rows[1]["error"] == "boom" and rows[2]["counts"] == {"new": 3}
    assert rows[0]["finished"] is None and rows[2]["finished"] is not None
    limited = json.loads(_ok(database_url, "db", "runs", "--limit", "1", "--format", "json"))
    assert [r["id"] for r in limited] == [rows[0]["id"]]
    only = json.loads(_ok(database_url, "db", "runs", "--kind", "schedule", "--format", "json"))
    assert [r["status"] for r in only] == ["failed"]
    table = _ok(database_url, "db", "runs")
    assert "boom" in table and "schedule" in table


def test_schedule_help_names_an_existing_command() -> None:
    assert "kinhub db runs" in runner.invoke(app, ["schedule", "--help"]).stdout
    assert runner.invoke(app, ["db", "runs", "--help"]).exit_code == 0


def test_reparse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    hub = generate_hub(tmp_path / "hub", n_models=12, seed=5, weights=False)
    folders = [r for r in hub.ids() if (hub.root / r).is_dir()]
    for repo_id in folders:
        _ok(url, "ingest", str(hub.root / repo_id), "--repo-id", repo_id)
    report = json.loads(_ok(url, "db", "reparse", "--format", "json"))
    assert report["parser_version"] == version.PARSER_VERSION
    assert (report["examined"], report["changed"]) == (0, 0)
    report = json.loads(_ok(url, "db", "reparse", "--all", "--format", "json"))
    assert (report["examined"], report["changed"], report["unchanged"]) == (
        len(folders),
        0,
        len(folders),
    )
    monkeypatch.setattr(version, "PARSER_VERSION", version.PARSER_VERSION + 1)
    report = json.loads(_ok(url, "db", "reparse", "--format", "json"))
    assert (report["examined"], report["changed"]) == (len(folders), 0)
    assert "examined" in _ok(url, "db", "reparse")


def test_runs_table_fits_80_columns(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    database = open_database(database_url)
    counts = {
        "models_seen": 1500, "new": 1200, "changed": 30, "unchanged": 270, "edges_added": 4000,
        "jobs_queued": 900, "files_downloaded": 2700, "errors": {"http": 2, "parse": 1},
        "requests": {"calls": {"api": 1, "resolve": 2}},
    }  # fmt: skip
    with database.session() as session:
        record_run(session, kind="crawl", scope="merges", status="ok", counts=counts)
        run_id = start_run(session, kind="schedule", scope="full")
        finish_run(session, run_id, status="failed", counts={}, error="boom " * 30)
    database.dispose()
    table = _ok(database_url, "db", "runs")
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 80
    words = " ".join(table.split())
    for expected in ("1,500 seen", "1,200 new", "4,000 edges", "3 errors", "crawl", "merges"):
        assert expected.replace(",", "") in words.replace(",", ""), expected
    assert "{" not in table and "None" not in table and "…" not in table
