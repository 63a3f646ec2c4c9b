"""What ``kinhub --help`` and ``kinhub lineage`` import at start-up (issue 7, "Start-up").

Each command runs in a fresh interpreter under ``python -X importtime``; the
modules it imported are read from that report.  The heavy libraries must stay
out: the ORM (SQLModel, pydantic, ``sqlalchemy.orm``) on the lineage path,
which runs on SQLAlchemy Core alone (pydantic would also come from typer's
own option conversion, which kinhub.cli.coercion spares plain values), and
everything database- or Hub-related (and pydantic) on ``--help``, whose choice
lists come from light "names" modules of the rooms that own them.  No timings are asserted;
this test keeps the imports that made start-up slow from coming back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.sandbox.hub import HubManifest, generate_hub
from typer.testing import CliRunner

ORM_AND_HEAVY = (
    "sqlmodel",
    "pydantic",
    "sqlalchemy.orm",
    "torch",
    "numba",
    "huggingface_hub",
    "alembic",
    "networkx",
)
NOT_FOR_HELP = (
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "torch",
    "numba",
    "huggingface_hub",
    "alembic",
)


def _imports(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run ``kinhub ARGS`` under ``-X importtime``: the process and :func:`_roots`."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kinhub.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
    )
    return proc, _roots(proc.stderr)


def _roots(report: str) -> dict[str, str]:
    """Each module in an importtime report, mapped to the top-level import that
    first pulled it in (the report lists a module after everything it imported,
    indented by depth)."""
    pending: list[str] = []
    roots: dict[str, str] = {}
    for line in report.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        tree = line.rsplit("|", 1)[1]
        name = tree.strip()
        if name == "imported package":  # the header line
            continue
        pending.append(name)
        if len(tree) - len(tree.lstrip(" ")) == 1:  # depth 0: a top-level import
            roots.update(dict.fromkeys(pending, name))
            pending.clear()
    return roots


def _loaded(roots: dict[str, str], package: str) -> list[str]:
    return sorted(m for m in roots if m == package or m.startswith(package + "."))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> HubManifest:
    return generate_hub(tmp_path_factory.mktemp("hub"), n_models=12, seed=3)


@pytest.fixture
def ingested(database_url: str, hub: HubManifest) -> tuple[str, str]:
    """A database holding the small hub; returns (URL, a merge with parents)."""
    runner = CliRunner()
    merges = set(hub.ids(kind="merge"))
    merge = ""
    for repo_id in hub.ids():
        folder = hub.root / repo_id
        if not folder.is_dir():
            continue
        result = runner.invoke(
            app, ["--db", database_url, "ingest", str(folder), "--repo-id", repo_id]
        )
        assert result.exit_code == 0, result.output
        if repo_id in merges:
            merge = repo_id
    assert merge
    return database_url, merge


@pytest.mark.parametrize("fmt", ["tree", "json"])
def test_lineage_runs_on_core_only(ingested: tuple[str, str], fmt: str) -> None:
    url, merge = ingested
    proc, roots = _imports("--db", url, "lineage", merge, "--both", "--format", fmt)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if fmt == "json":
        found = json.loads(proc.stdout)
        assert found["root"] == merge and found["edges"]
    else:
        assert merge in proc.stdout
    assert "sqlalchemy" in roots  # the probe sees the imports it is meant to see
    for package in ORM_AND_HEAVY:
        loaded = _loaded(roots, package)
        assert not loaded, f"lineage imported {package}: {loaded[:3]} via {roots[loaded[0]]}"


def test_missing_model_is_reported_on_core_only(ingested: tuple[str, str]) -> None:
    url, _merge = ingested
    proc, roots = _imports("--db", url, "lineage", "nobody/here")
    assert proc.returncode == 1
    assert "'nobody/here' is not in the database" in proc.stderr
    for package in ORM_AND_HEAVY:
        assert not _loaded(roots, package), package


def test_help_imports_no_database_or_hub_library() -> None:
    proc, roots = _imports("--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "lineage" in proc.stdout
    assert "typer" in roots
    for package in NOT_FOR_HELP:
        assert not _loaded(roots, package), f"--help imported {package}"


def test_importtime_parse_sees_nested_imports(tmp_path: Path) -> None:
    """The probe attributes a nested import to the top-level import behind it."""
    (tmp_path / "outer_probe.py").write_text("import inner_probe\n")
    (tmp_path / "inner_probe.py").write_text("import json\n")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import outer_probe"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    roots = _roots(proc.stderr)
    assert roots["inner_probe"] == "outer_probe"
    assert roots["outer_probe"] == "outer_probe"
    assert _loaded(roots, "inner_probe") == ["inner_probe"]
