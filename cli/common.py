"""What every command shares: app state, shared options, output, error → exit code.

Start-up matters (every ``--help`` pays it), so this module imports only typer,
rich and light kinhub modules; the database layer is imported when a command
opens the database.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from kinhub.cli.coercion import plain_coercion
from kinhub.crawler.names import ScopeKind
from kinhub.db.errors import KinhubError
from kinhub.hub.ratelimit import Plan
from rich.console import Console

# typer 0.29 exports no UsageError: its vendored click is private (pinned; guarded by
# tests/cli/test_coercion.py::test_usage_errors_are_the_vendored_clicks).
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from kinhub.crawler.scope import Scope
    from kinhub.db.engine import Database

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


@dataclass
class AppState:
    """Root-command options, handed to every command through ``ctx.obj``."""

    db_url: str | None = None
    verbosity: int = 0


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


# ---------------------------------------------------------------- shared options

FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", help="`table` for people, `json` (one document) for machines."),
]
"""``--format table|json``, the same on every command that renders a result."""

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="KINHUB_DB",
        metavar="URL",
        help="Database URL (`sqlite:///path` or `postgresql+psycopg://…`). "
        "Default: SQLite in the user's data directory.",
    ),
]
"""``--db URL`` (or ``KINHUB_DB``), given once on the root command."""

EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint", metavar="URL", help="Hub URL (default: `HF_ENDPOINT`, else huggingface.co)."
    ),
]

VerboseOpt = Annotated[
    int,
    typer.Option(
        "-v",
        "--verbose",
        count=True,
        metavar="",
        show_default=False,
        help="Log more on stderr: `-v` info, `-vv` debug.",
    ),
]
"""``-v``/``-vv`` on the root command and on ``merge_cal``; see :func:`log_level`."""


def log_level(verbose: int) -> int:
    """The logging level for ``-v`` given ``verbose`` times: warning, info, debug."""
    return logging.WARNING - 10 * min(verbose, 2)


# The crawl options ``crawl`` and ``schedule`` share; the scopes (and the default,
# DEFAULT_SCOPE) are kinhub.crawler.names's.
ScopeOpt = Annotated[ScopeKind, typer.Option("--scope", help="What to crawl.")]
ScopeModelArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[MODEL]", help="The model for `--scope children-of`.", show_default=False
    ),
]
PlanOpt = Annotated[
    Plan, typer.Option("--plan", help="Account tier; sets the rate limits per 5 minutes.")
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", min=1, max=64, help="Parallel file downloads.")
]
MaxPairJobsOpt = Annotated[
    int,
    typer.Option(
        "--max-pair-jobs",
        min=0,
        max=1_000_000,
        metavar="N",
        help="Pair kinship jobs queued per merge at most (heaviest ingredients first).",
    ),
]


def parse_scope(scope: ScopeKind, model: str | None) -> Scope:
    """The crawl scope named on the command line.

    Raises:
        ScopeError: unknown kind, or ``children-of`` without a valid model id.
    """
    from kinhub.crawler.scope import Scope

    return Scope.parse(scope, model)


def one_of(names: Iterable[str]) -> str:
    """```a`, `b` or `c```: a choice list as a help text names it (read from its owner,
    so the text cannot drift from the choices)."""
    quoted = [f"`{name}`" for name in names]
    return quoted[-1] if len(quoted) < 2 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def flag(*names: str, help: str, hidden: bool = False) -> Any:
    """A boolean flag, shown without a ``<bool>`` placeholder."""
    return typer.Option(*names, help=help, metavar="", hidden=hidden)


# ---------------------------------------------------------------- help rendering


def _no_placeholder(option: TyperOption | None) -> TyperOption | None:
    if option is not None:
        option.metavar = ""
    return option


def _usage_name(argument: TyperArgument) -> str:
    """``MODEL``, ``[MODEL]``, ``PATH...``: the argument as a usage line shows it."""
    name = argument.metavar or (argument.name or "arg").upper()
    if argument.nargs != 1 and not name.endswith("..."):
        name += "..."
    if not argument.required and not name.startswith("["):
        name = f"[{name}]"
    return name


class Command(TyperCommand):
    """A command with a conventional usage line (``kinhub lineage [OPTIONS] MODEL``,
    not ``{model}``), a ``--help`` flag without a ``<bool>`` placeholder, and plain
    option values converted without pydantic (:mod:`kinhub.cli.coercion`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _no_placeholder(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_usage_name(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


def usage_error_line(exc: UsageError) -> str:
    """One line for a usage error: what was wrong and where to read more."""
    message = " ".join(exc.format_message().split())
    where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return f"error: {message}{where}"


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Usage errors (a bad option value, a missing argument, an unknown command) as one
    line on stderr and click's exit code 2, instead of click's usage box."""
    try:
        yield
    except NoArgsIsHelpError:
        raise  # the help text, as asked for
    except UsageError as exc:
        typer.echo(usage_error_line(exc), err=True)
        raise typer.Exit(exc.exit_code) from exc


class Group(TyperGroup):
    """A command group whose ``--help`` flag shows no ``<bool>`` placeholder, whose
    plain option values are converted without pydantic, and whose usage errors —
    its own and those of every command below it — are one line on stderr."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)

    def get_help_option(self, ctx: Any) -> TyperOption | None:
        return _no_placeholder(super().get_help_option(ctx))


# ---------------------------------------------------------------- state and output


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, AppState) else AppState()


def print_json(data: Any) -> None:
    """One JSON document on stdout (machines parse this; never pretty-print via rich)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn kinhub's typed errors into one line on stderr and exit code 1."""
    try:
        yield
    except KinhubError as exc:
        # The message may quote user input or Hub text (a path, a tensor name): never
        # markup, and no control or bidi characters (render.esc).
        from kinhub.cli.render import esc  # render imports this module

        stderr.print(f"[red]error:[/red] {esc(exc)}", highlight=False, markup=True)
        raise typer.Exit(1) from exc


def open_db(ctx: typer.Context) -> Database:
    """Open the database the root ``--db`` option (or ``KINHUB_DB``) names."""
    from kinhub.db.engine import open_database

    return open_database(state(ctx).db_url)


@contextmanager
def database_of(ctx: typer.Context) -> Iterator[Database]:
    """The selected database, disposed of when the block ends."""
    database = open_db(ctx)
    try:
        yield database
    finally:
        database.dispose()
