"""Hostile safetensors headers: refused before any tensor is read, in exact and sampled
mode, from a folder and from the Hub, by ``kinhub kinship`` (one line, exit 1) and by
the worker (the job fails once, with the reason, and no number is stored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.db.engine import Database
from kinhub.db.jobs.keys import JobTarget
from kinhub.db.jobs.queue import list_jobs
from kinhub.db.models import Kinship
from kinhub.kinship.engine import compute_kinship
from kinhub.kinship.errors import WeightsFormatError
from kinhub.kinship.header import json_depth, loads_bounded
from kinhub.kinship.weights import open_folder
from kinhub.pipeline.worker import Worker, WorkerSettings
from kinhub.sandbox.emulator import HubEmulator
from sqlmodel import select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.kinship.hostile_weights import CORRUPTIONS, corrupt_copy, read_st, write_st
from tests.kinship.worker_hub import ORG, queue, write_family

CASES = sorted(CORRUPTIONS)
REASONS = {
    "negative": "negative",
    "overlapping": "overlaps",
    "trailing": "after the last tensor",
    "deep": "nested",
    "infinite_shape": "non-negative integers",
}


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``kin/base``, ``kin/ft00``, ``kin/ft01`` and ``kin/bad-<case>`` (ft01, corrupted)."""
    root = tmp_path_factory.mktemp("hostile_hub")
    write_family(root, n=2)
    for case in CASES:
        corrupt_copy(root / ORG / "ft01", root / ORG / f"bad-{case}", case)
    return root


@pytest.fixture(scope="module")
def emu(hub_root: Path, module_hub_emulator: HubEmulators) -> Iterator[HubEmulator]:
    with module_hub_emulator(hub_root) as server:
        yield server


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize("case", CASES)
def test_corrupt_header_is_refused_when_indexed(hub_root: Path, case: str) -> None:
    with pytest.raises(WeightsFormatError) as ei:
        open_folder(hub_root / ORG / f"bad-{case}")
    assert REASONS[case] in _one_line(ei.value)
    assert ei.value.file == "model.safetensors"


@pytest.mark.parametrize("sample", [None, 0.5], ids=["exact", "sampled"])
@pytest.mark.parametrize("case", CASES)
def test_local_corrupt_model_never_yields_a_number(
    hub_root: Path, case: str, sample: float | None
) -> None:
    bad, ft, base = (str(hub_root / ORG / n) for n in (f"bad-{case}", "ft00", "base"))
    with pytest.raises(WeightsFormatError, match=REASONS[case]):
        compute_kinship(ft, bad, base, sample=sample)


@pytest.mark.parametrize("sample", [None, 0.5], ids=["exact", "sampled"])
@pytest.mark.parametrize("case", ["negative", "deep", "trailing"])
def test_hub_corrupt_model_never_yields_a_number(
    emu: HubEmulator, case: str, sample: float | None
) -> None:
    with pytest.raises(WeightsFormatError, match=REASONS[case]) as ei:
        compute_kinship(
            f"{ORG}/ft00", f"{ORG}/bad-{case}", f"{ORG}/base", sample=sample, endpoint=emu.url
        )
    _one_line(ei.value)


def test_worker_fails_each_corrupt_job_once_with_its_reason(
    database: Database, emu: HubEmulator
) -> None:
    targets = [
        JobTarget(kind="pair", model_a=f"{ORG}/ft00", model_b=f"{ORG}/bad-{c}", base=f"{ORG}/base")
        for c in CASES
    ]
    queue(database, targets)
    report = Worker(database, WorkerSettings(endpoint=emu.url, retry_s=0)).run(until_empty=True)
    assert (report.done, report.failed, report.retried) == (0, len(CASES), 0)
    with database.session() as session:
        jobs = {({j.model_a, j.model_b} - {f"{ORG}/ft00"}).pop(): j for j in list_jobs(session)}
        assert list(session.exec(select(Kinship))) == []  # no number was stored
    for case in CASES:
        job = jobs[f"{ORG}/bad-{case}"]
        assert job.status == "failed" and job.attempts == 1, (case, job.last_error)
        reason = job.last_error or ""
        assert f"{ORG}/bad-{case}" in reason and REASONS[case] in reason, reason
        assert "\n" not in reason


@pytest.mark.parametrize("case", CASES)
def test_kinship_command_answers_one_line_and_exit_1(
    hub_root: Path, tmp_path: Path, case: str
) -> None:
    bad, ft, base = (str(hub_root / ORG / n) for n in (f"bad-{case}", "ft00", "base"))
    db = f"sqlite:///{tmp_path / 'k.db'}"
    r = CliRunner().invoke(app, ["--db", db, "kinship", ft, bad, "--base", base])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and REASONS[case] in lines[0]


@pytest.mark.parametrize(
    "name", ["model.embed\x00tokens.weight", "x" * 20_000], ids=["nul", "long"]
)
def test_a_nul_or_huge_tensor_name_makes_the_file_corrupt(
    hub_root: Path, tmp_path: Path, name: str
) -> None:
    """Tensor names reach stored JSON (PostgreSQL cannot hold NUL) and sketch plans."""
    bad = tmp_path / "named"
    bad.mkdir()
    for f in (hub_root / ORG / "ft01").iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    header, data = read_st(bad / "model.safetensors")
    first = next(k for k in header if k != "__metadata__")
    header[name] = header.pop(first)
    write_st(bad / "model.safetensors", header, data)
    with pytest.raises(WeightsFormatError) as ei:
        open_folder(bad)
    assert "bad tensor name" in _one_line(ei.value)


def test_hostile_tensor_name_stays_one_line_in_the_command(hub_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "named"
    corrupt_copy(hub_root / ORG / "ft01", bad, "negative")
    header, data = read_st(bad / "model.safetensors")
    first = next(k for k in header if k != "__metadata__")
    header["evil\n[/bold]\x1b[2J" + "x" * 5000] = header.pop(first)
    write_st(bad / "model.safetensors", header, data)
    ft, base = (str(hub_root / ORG / n) for n in ("ft00", "base"))
    r = CliRunner().invoke(
        app, ["--db", f"sqlite:///{tmp_path / 'k.db'}", "kinship", ft, str(bad), "--base", base]
    )
    assert r.exit_code == 1
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "negative" in lines[0] and "\x1b" not in lines[0]
    assert len(lines[0]) < 400


def test_json_depth_is_counted_without_recursion() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert json_depth(b'["\\"[[", []]') == 2
    assert json_depth(b"[" * 200_000 + b"]" * 200_000) == 200_000
    with pytest.raises(WeightsFormatError, match="nested 200000 deep"):
        loads_bounded(b"[" * 200_000 + b"]" * 200_000, "x.json")
    assert loads_bounded(json.dumps({"a": [[1]]}).encode(), "x.json") == {"a": [[1]]}


@pytest.mark.parametrize(
    ("weight_map", "reason"),
    [
        ({"a": "model-00001-of-00002.safetensors"}, "missing or unreadable"),
        ({"a": {"nested": 1}}, "not a file name"),
        ({f"t{i}": f"s{i}.safetensors" for i in range(5000)}, "5000 shards"),
    ],
    ids=["missing-shard", "not-a-name", "too-many-shards"],
)
def test_hostile_index_is_refused_in_one_line(
    hub_root: Path, tmp_path: Path, weight_map: dict[str, object], reason: str
) -> None:
    bad = tmp_path / "indexed"
    bad.mkdir()
    (bad / "config.json").write_bytes((hub_root / ORG / "ft01" / "config.json").read_bytes())
    (bad / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(WeightsFormatError, match=reason):
        open_folder(bad)
    ft, base = (str(hub_root / ORG / n) for n in ("ft00", "base"))
    r = CliRunner().invoke(
        app, ["--db", f"sqlite:///{tmp_path / 'k.db'}", "kinship", ft, str(bad), "--base", base]
    )
    assert r.exit_code == 1 and reason in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert len(r.output.strip().splitlines()) == 1
