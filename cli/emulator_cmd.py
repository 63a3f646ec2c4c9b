"""``kinhub emulator DIR``: serve a snapshot directory as a local Hugging Face Hub."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from kinhub.cli.common import handle_errors, stderr

_RATE = re.compile(r"^(\d+)(?:/(\d+(?:\.\d+)?)s)?$")


def _parse_rate(value: str | None) -> tuple[int | None, float]:
    if value is None:
        return None, 300.0
    m = _RATE.match(value.strip())
    if not m or int(m[1]) < 1:
        raise typer.BadParameter("expected N or N/300s (requests per window)")
    return int(m[1]), float(m[2]) if m[2] else 300.0


def emulator(
    directory: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="Snapshot directory: DIR/<org>/<name>/ per repo."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(0, help="Port (0 picks a free one)."),
    latency_ms: float = typer.Option(0, "--latency-ms", min=0, help="Delay per Hub request."),
    fail_rate: float = typer.Option(
        0.0,
        "--fail-rate",
        min=0.0,
        max=1.0,
        help="Fraction of Hub requests answered with 429/500/503/reset/truncated body.",
    ),
    rate_limit: str | None = typer.Option(
        None, "--rate-limit", help="Requests per fixed window and bucket, e.g. 500/300s."
    ),
    seed: int = typer.Option(0, help="Seed of the fault-injection RNG."),
) -> None:
    """Serve DIR as the Hub API (foreground; Ctrl-C stops it). Prints the URL on stderr."""
    from kinhub.hub.emulator import HubEmulator

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
    app.command("emulator")(emulator)
