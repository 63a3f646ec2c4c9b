"""Start-up time of the CLI, old and new side by side in one run.

The *old* start-up is commit 2a055c4 (before the package rename; every command
imported torch, numba, alembic and huggingface_hub up front), checked out into a
temporary git worktree and run as ``python -m cli`` with ``PYTHONPATH`` and the
working directory set to it.  The *new* one is this checkout's installed
``kinhub`` (``python -m kinhub.cli`` and the ``kinhub`` entry point).  Both use
this interpreter and its site-packages.

The issue's yardstick is a third side, *imports*: a bare interpreter importing
the four heavy libraries the old start-up paid for
(``python -c "import torch, numba, alembic, huggingface_hub"``).

Cases: ``--help``, and ``lineage org/x`` against an existing, migrated SQLite
database (the model is not there, so the command opens the database, checks its
migration revision, runs the query and exits 1 with one line).  Every case runs
once untimed (bytecode caches, database creation), then the cases take turns,
``--runs`` times each, so a busy machine slows old and new alike.  Reported:
median and minimum wall time per case, and the ratios of the medians to the old
start-up and to the bare imports.

    python scripts/bench_startup.py [--runs 15] [--old-commit 2a055c4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "2a055c4"


@dataclass(frozen=True)
class Case:
    name: str  # "old --help", ...
    command: str  # "--help" | "lineage"
    side: str  # "old" | "new" | "imports"
    argv: list[str]
    cwd: Path
    env: dict[str, str]


@contextmanager
def old_worktree(commit: str, parent: Path) -> Iterator[Path]:
    """``commit`` checked out (detached) in a temporary worktree, removed afterwards."""
    path = parent / f"kinhub-{commit}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            check=False,
            capture_output=True,
        )


def _entry_point() -> str:
    beside = Path(sys.executable).parent / "kinhub"
    found = str(beside) if beside.exists() else shutil.which("kinhub")
    if found is None:
        raise SystemExit("the kinhub entry point is not installed (pip install -e .)")
    return found


def cases(old: Path, work: Path) -> list[Case]:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KINHUB_DB")}
    base["KINHUB_HOME"] = str(work / "home")  # never the user's data directory
    old_env = {**base, "PYTHONPATH": str(old)}
    py = sys.executable
    old_db, new_db = f"sqlite:///{work / 'old.db'}", f"sqlite:///{work / 'new.db'}"
    lineage = ["lineage", "org/x"]
    heavy = "import torch, numba, alembic, huggingface_hub"
    return [
        Case(f'imports: python -c "{heavy}"', "imports", "imports",
             [py, "-c", heavy], work, base),
        Case("old: python -m cli --help", "--help", "old",
             [py, "-m", "cli", "--help"], old, old_env),
        Case("new: python -m kinhub.cli --help", "--help", "new",
             [py, "-m", "kinhub.cli", "--help"], work, base),
        Case("new: kinhub --help", "--help", "new", [_entry_point(), "--help"], work, base),
        Case("old: python -m cli lineage", "lineage", "old",
             [py, "-m", "cli", "--db", old_db, *lineage], old, old_env),
        Case("new: python -m kinhub.cli lineage", "lineage", "new",
             [py, "-m", "kinhub.cli", "--db", new_db, *lineage], work, base),
        Case("new: kinhub lineage", "lineage", "new",
             [_entry_point(), "--db", new_db, *lineage], work, base),
    ]  # fmt: skip


def run_once(case: Case) -> float:
    started = time.perf_counter()
    done = subprocess.run(case.argv, cwd=case.cwd, env=case.env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    expected = 1 if case.command == "lineage" else 0
    if done.returncode != expected or (
        case.command == "lineage" and "not in the database" not in done.stderr
    ):
        raise SystemExit(f"{case.name}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return elapsed


def measure(all_cases: list[Case], runs: int) -> dict[str, list[float]]:
    for case in all_cases:  # untimed: bytecode caches, database creation and migration
        run_once(case)
    times: dict[str, list[float]] = {case.name: [] for case in all_cases}
    for _ in range(runs):
        for case in all_cases:
            times[case.name].append(run_once(case))
    return times


def summarise(all_cases: list[Case], times: dict[str, list[float]]) -> dict[str, object]:
    rows = []
    old_median = {c.command: statistics.median(times[c.name]) for c in all_cases if c.side == "old"}
    imports = statistics.median(next(times[c.name] for c in all_cases if c.side == "imports"))
    for case in all_cases:
        median = statistics.median(times[case.name])
        old = old_median.get(case.command)
        rows.append(
            {
                "case": case.name,
                "median_s": round(median, 3),
                "min_s": round(min(times[case.name]), 3),
                "ratio_to_old": None if old is None else round(median / old, 3),
                "ratio_to_imports": round(median / imports, 3),
            }
        )
    return {"runs": len(next(iter(times.values()))), "python": sys.version.split()[0], "rows": rows}


def print_table(summary: dict[str, object]) -> None:
    rows = summary["rows"]
    assert isinstance(rows, list)
    print(f"start-up, {summary['runs']} runs each (interleaved), Python {summary['python']}")
    print(f"{'case':<70} {'median':>8} {'min':>8} {'/old':>6} {'/imports':>8}")
    for row in rows:
        to_old = "—" if row["ratio_to_old"] is None else f"{row['ratio_to_old']:.2f}"
        print(
            f"{row['case']:<70} {row['median_s']:>7.3f}s {row['min_s']:>7.3f}s "
            f"{to_old:>6} {row['ratio_to_imports']:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per case")
    parser.add_argument("--old-commit", default=OLD_COMMIT, help="the old start-up's commit")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kinhub-bench-startup-") as tmp:
        work = Path(tmp)
        with old_worktree(args.old_commit, work) as old:
            all_cases = cases(old, work)
            summary = summarise(all_cases, measure(all_cases, args.runs))
    summary["old_commit"] = args.old_commit
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary)


if __name__ == "__main__":
    main()
