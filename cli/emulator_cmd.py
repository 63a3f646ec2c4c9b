"""``kinhub emulator DIR``: serve a snapshot directory as a local Hugging Face Hub."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from kinhub.cli.common import Command, handle_errors, stderr
from kinhub.cli.durations import parse_duration

_RATE = re.compile(r"^(\d+)(?:/(.+))?$")


def _parse_rate(value: str | None) -> tuple[int | None, float]:
    if value is None:
        return None, 300.0
    m = _RATE.match(value.strip())
    if not m or int(m[1]) < 1:
        raise typer.BadParameter("expected N or N/300s (requests per window)")
    window = parse_duration(m[2], option="--rate-limit", positive=True) if m[2] else 300.0
    return int(m[1]), window


def emulator(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="Snapshot directory: `DIR/<org>/<name>/` per repo.",
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 0,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=0, metavar="MS", help="Delay per Hub request.")
    ] = 0,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            min=0.0,
            max=1.0,
            metavar="FRACTION",
            help="Fraction of Hub requests answered with 429/500/503/reset/truncated body.",
        ),
    ] = 0.0,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            metavar="N[/Ws]",
            help="Requests per fixed window and bucket, e.g. `500/300s`.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fault-injection RNG.")] = 0,
) -> None:
    """Serve DIR as the Hub API (foreground; Ctrl-C stops it). Prints the URL on stderr."""
    from kinhub.sandbox.emulator import HubEmulator

    quota, window = _parse_rate(rate_limit)
    with handle_errors():
        emu = HubEmulator(
            directory,
            host=host,
            port=port,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            rate_limit=quota,
            rate_window_s=window,
            seed=seed,
        ).start()
        stderr.print(f"Hub emulator serving {directory} at {emu.url}", highlight=False)
        stderr.print(f"export HF_ENDPOINT={emu.url}", highlight=False)
        try:
            emu.serve_forever()
        except KeyboardInterrupt:
            stderr.print("stopped", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("emulator", cls=Command)(emulator)
