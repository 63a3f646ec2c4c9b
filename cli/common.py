"""What every command shares: app state, output formats, error → exit-code mapping."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import typer
from kinhub.db.engine import Database, open_database
from kinhub.db.errors import KinhubError
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

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
        stderr.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
        raise typer.Exit(1) from exc


def open_db(ctx: typer.Context) -> Database:
    """Open the database the root ``--db`` option (or ``KINHUB_DB``) names."""
    return open_database(state(ctx).db_url)
