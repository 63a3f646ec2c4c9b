"""``kinhub db``: database maintenance."""

from __future__ import annotations

import typer
from kinhub.cli.common import handle_errors, print_json, state
from kinhub.db.config import default_database_url
from kinhub.db.engine import current_revision, head_revision, open_database
from sqlalchemy.engine import make_url

db_app = typer.Typer(help="Database maintenance (migrations, location).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (opening a database does this too)."""
    with handle_errors():
        database = open_database(state(ctx).db_url)
        revision = current_revision(database.engine)
        database.dispose()
    print_json({"database": _safe(database.url), "revision": revision, "head": head_revision()})


@db_app.command("info")
def info(ctx: typer.Context) -> None:
    """Show which database is used and its migration revision."""
    url = state(ctx).db_url or default_database_url()
    with handle_errors():
        database = open_database(url, migrate=False)
        revision = current_revision(database.engine)
        database.dispose()
    print_json({"database": _safe(url), "revision": revision, "head": head_revision()})


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
