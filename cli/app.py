"""The ``kinhub`` Typer application: root options and command registration.

Command modules import only typer, rich and light kinhub modules at import
time (the library — torch, numba, alembic, huggingface_hub — loads inside the
command that needs it), so ``kinhub --help`` and quick commands start fast.
"""

from __future__ import annotations

import importlib
import logging
from typing import Annotated

import typer
from kinhub.cli.common import AppState, DbOpt, Group, VerboseOpt, log_level

app = typer.Typer(
    name="kinhub",
    help="Crawl merge genealogies from the Hugging Face Hub, compute model kinship, "
    "and query both.",
    cls=Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
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
    "kinhub.cli.export_cmd",
    "kinhub.cli.show_cmd",
    "kinhub.cli.licenses_cmd",
    "kinhub.cli.stats_cmd",
    "kinhub.cli.worker_cmd",
    "kinhub.cli.jobs_cmd",
    "kinhub.cli.partners_cmd",
    "kinhub.cli.plan_cmd",
    "kinhub.cli.analyze_cmd",
    "kinhub.cli.sketch_cmd",
    "kinhub.cli.relatives_cmd",
)


def package_version() -> str:
    """The installed kinhub version (``unknown`` when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kinhub")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kinhub {package_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: DbOpt = None,
    verbose: VerboseOpt = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            metavar="",
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Crawl merge genealogies from the Hugging Face Hub, compute model kinship, and query both."""
    logging.basicConfig(level=log_level(verbose), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = AppState(db_url=db, verbosity=verbose)


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app()
