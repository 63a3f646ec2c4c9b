"""`kinhub demo` keeps everything under its directory (its database too) and ends with
next commands that each work on its database after it has exited."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import _fresh_postgres

WIDTH = 80


def _kinhub() -> str:
    found = Path(sys.executable).with_name("kinhub")
    return str(found) if found.exists() else shutil.which("kinhub") or "kinhub"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A short path, so the printed commands fit 80 columns as a user's would.
    path = Path(tempfile.mkdtemp(prefix="kd"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _commands(stdout: str) -> list[str]:
    """The printed next commands, continuation lines joined."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("answer from what"))
    commands: list[str] = []
    current = ""
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        text = line.strip()
        current = f"{current} {text[:-1].strip()}" if text.endswith("\\") else f"{current} {text}"
        if not text.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


def _overflow(text: str) -> list[str]:
    """Lines wider than WIDTH, except one word (a long path or URL) alone on its line."""
    return [
        line
        for line in text.splitlines()
        if cell_len(line) > WIDTH and len(line.removesuffix("\\").split()) > 1
    ]


@pytest.fixture(params=["demo-default", "postgresql"])
def demo_db(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the demo's own default (``DIR/kinhub.db``); else a PostgreSQL URL that
    ``KINHUB_DB`` names."""
    if request.param == "demo-default":
        yield None
        return
    admin = request.getfixturevalue("postgres_server")
    yield from _fresh_postgres(admin)


def test_demo_next_commands_work_after_it_exits(
    short_dir: Path, tmp_path: Path, demo_db: str | None
) -> None:
    home = tmp_path / "home"
    user_hf = tmp_path / "user-hf"
    home.mkdir()
    user_hf.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KINHUB_", "XDG_"))}
    # Where the demo must not write: the user's data directory and Hugging Face cache.
    env.update(HOME=str(home), KINHUB_HOME=str(home / "data"), HF_HOME=str(user_hf))
    env.update(COLUMNS=str(WIDTH), TERM="dumb")
    if demo_db is not None:
        env["KINHUB_DB"] = demo_db
    demo_dir = short_dir / "demo"
    run = subprocess.run(
        [_kinhub(), "demo", "--models", "40", "--dir", str(demo_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]

    # Everything the demo made is under --dir, its database included (unless named).
    url = demo_db or f"sqlite:///{demo_dir / 'kinhub.db'}"
    assert (demo_dir / "kinhub.db").is_file() is (demo_db is None)
    assert not (home / "data").exists() and sorted(user_hf.iterdir()) == []
    assert url in run.stdout

    commands = _commands(run.stdout)
    names = [w[w.index("kinhub") + 1] for w in map(shlex.split, commands)]
    assert names == ["partners", "plan", "analyze", "export"]
    # The demo's closing lines (the lineage and kinship above are render.py's).
    wide = {"demo": _overflow(run.stdout[run.stdout.index("demo files in") :])}
    env.pop("KINHUB_DB", None)
    for command in commands:
        words = shlex.split(command)
        at = words.index("kinhub")
        assignments = dict(w.split("=", 1) for w in words[:at])
        assert assignments["KINHUB_DB"] == url
        done = subprocess.run(
            [_kinhub(), *words[at + 1 :]],
            env={**env, **assignments},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        wide[words[at + 1]] = _overflow(done.stdout + done.stderr)
        if words[at + 1] == "analyze":
            # The planted relation: more related ingredients gain less, clearly.
            row = next(line for line in done.stdout.splitlines() if line.startswith("│ cs"))
            r = float(row.split("r = ")[1].split()[0])
            p = float(row.split("(p = ")[1].split(")")[0])
            assert r < -0.5 and p < 0.05, row
    assert (demo_dir / "gain.png").is_file() and (demo_dir / "family.html").is_file()
    assert not (home / "data").exists() and sorted(user_hf.iterdir()) == []
    assert {k: v for k, v in wide.items() if v} == {}


def test_a_database_password_is_never_printed() -> None:
    from kinhub.cli.demo_cmd import printable_url

    assert printable_url("postgresql+psycopg://u:s3cret@h/db") == "postgresql+psycopg://u:***@h/db"
    assert printable_url("sqlite:////tmp/d/kinhub.db") == "sqlite:////tmp/d/kinhub.db"


def test_a_command_the_demo_could_not_prepare_is_not_suggested(tmp_path: Path) -> None:
    from types import SimpleNamespace
    from typing import cast

    from kinhub.cli.demo_cmd import next_commands
    from kinhub.pipeline.demo import DemoReport, NextSteps

    steps = NextSteps(
        partners_model="org/m",
        plan_pool=("org/a", "org/b"),
        export_model="org/m",
        plot=tmp_path / "gain.png",
        html=tmp_path / "family.html",
        failed=(("partners", "no merge partner for org/m"),),
    )
    report = cast(DemoReport, SimpleNamespace(next=steps))
    url = f"sqlite:///{tmp_path / 'kinhub.db'}"
    commands = next_commands(report, url)
    named = [w[w.index("kinhub") + 1] for w in map(shlex.split, commands)]
    assert named == ["plan", "analyze", "export"]
    assert commands[0] == f"KINHUB_DB={url} HF_HUB_OFFLINE=1 kinhub plan org/a org/b"
