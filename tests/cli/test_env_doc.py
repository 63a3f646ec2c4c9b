"""Every ``KINHUB_*`` variable the code, scripts and tests read is documented in the
README's "Environment variables" table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("cli", "pipeline", "crawler", "kinship", "export", "hub", "db", "sandbox", "scripts")
NAME = re.compile(r"\bKINHUB_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")


def _read_names() -> set[str]:
    files = [p for room in ROOMS for p in (ROOT / room).rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name]
    files += [ROOT / ".ci" / "run"]
    names: set[str] = set()
    for path in files:
        if path.suffix in {".pyc", ".db"} or not path.exists():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        names |= set(NAME.findall(text))
    return names


def test_every_kinhub_variable_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    rows = {line for line in section.splitlines() if line.startswith("| `")}
    documented = {n for line in rows for n in NAME.findall(line)}
    read = _read_names()
    assert {"KINHUB_DB", "KINHUB_WORKER_LEASE_S", "KINHUB_BENCH_PG"} <= read
    assert read - documented == set()
