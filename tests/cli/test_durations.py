"""One duration parser for every option (and ``KINHUB_*_S`` variable) that takes a
duration: `worker --time-budget/--lease`, `schedule --kinship-budget`,
`crawl --retry-base-delay`, `emulator --rate-limit N/WINDOW`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.cli.emulator_cmd import _parse_rate
from kinhub.db.timeutil import parse_duration
from kinhub.pipeline.worker import WorkerSettings
from typer.testing import CliRunner

from tests.conftest import HubEmulators

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1.5d", 129600),
     ("500ms", 0.5), ("1h30m", 5400), (" 2H ", 7200), ("1m 30s", 90), ("0", 0)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["banana", "", "-5", "5x", "1e9", "inf", "s", "99999d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|ten years"):
        parse_duration(text)


@pytest.mark.parametrize(
    "args",
    [
        ["worker", "--until-empty", "--time-budget"],
        ["worker", "--until-empty", "--lease"],
        ["schedule", "--once", "--kinship-budget"],
        ["crawl", "--retry-base-delay"],
    ],
    ids=["time-budget", "lease", "kinship-budget", "retry-base-delay"],
)
def test_every_duration_option_takes_the_same_syntax(
    args: list[str], tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'k.db'}"]
    bad = runner.invoke(app, [*db, *args, "banana"])
    assert bad.exit_code == 2, bad.output
    assert args[-1] in bad.output and "not a duration" in bad.output
    with hub_emulator({}) as emu:
        good = runner.invoke(
            app, [*db, *args, "30s", "--format", "json"], env={"HF_ENDPOINT": emu.url}
        )
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)


def test_emulator_window_and_worker_variables_are_durations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _parse_rate("500/300s") == (500, 300.0)
    assert _parse_rate("500/5m") == (500, 300.0)
    assert _parse_rate("7") == (7, 300.0)
    monkeypatch.setenv("KINHUB_WORKER_LEASE_S", "5m")
    monkeypatch.setenv("KINHUB_WORKER_RETRY_S", "90")
    monkeypatch.setenv("KINHUB_EXACT_MAX_BYTES", "2GB")  # a size, as --exact-max-bytes takes
    settings = WorkerSettings()
    assert (settings.lease_s, settings.retry_s) == (300.0, 90.0)
    assert settings.exact_max_bytes == 2 * 10**9
