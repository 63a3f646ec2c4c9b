"""The ``kinhub`` Typer application: root options and command registration."""

from __future__ import annotations

import importlib
import logging

import typer
from kinhub.cli.common import AppState

app = typer.Typer(
    name="kinhub",
    help="Hugging Face Hub crawler and kinship database for merged LLMs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module defines ``register(app)``; one line per module keeps merges trivial.
_COMMAND_MODULES: tuple[str, ...] = (
    "kinhub.cli.db_cmd",
    "kinhub.cli.emulator_cmd",
    "kinhub.cli.ingest_cmd",
    "kinhub.cli.lineage_cmd",
    "kinhub.cli.parse_cmd",
    "kinhub.cli.kinship_cmd",
    "kinhub.cli.crawl_cmd",
    "kinhub.cli.schedule_cmd",
    "kinhub.cli.demo_cmd",
)


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None,
        "--db",
        envvar="KINHUB_DB",
        help="Database URL (sqlite:///path or postgresql+psycopg://...). "
        "Default: SQLite in the user's data directory.",
    ),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="-v info, -vv debug."),
) -> None:
    """Crawl merge genealogies, compute model kinship, and query both."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = AppState(db_url=db, verbosity=verbose)


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app()
