"""Is a database already at the shipped migration head?  Answered without Alembic.

Every command that opens the database first checks its migration revision.
Alembic answers by importing every migration script (and itself pulls in mako
and pygments), which costs a few hundred milliseconds of start-up for a
question that is almost always "yes".  This module answers the common case
from the version files' ``revision``/``down_revision`` lines and one
``SELECT`` of ``alembic_version``; whenever it cannot be sure — a file it cannot
read, several heads, several version rows, no version table, any error — it
says "don't know" and the caller asks Alembic.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from sqlalchemy import Engine, text

logger = logging.getLogger(__name__)

_VERSIONS = Path(__file__).parent / "migrations" / "versions"


def _assigned(tree: ast.Module, name: str) -> tuple[bool, object]:
    """``(found, value)`` of the module-level assignment ``name = <literal>``
    (annotated or not); ``found`` is False when it is absent or not a literal."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                return True, ast.literal_eval(value)
            except ValueError:
                return False, None
    return False, None


def shipped_head(versions: Path = _VERSIONS) -> str | None:
    """The single head of the migration scripts in ``versions``, or None when any
    script cannot be read this way or there is not exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        if path.name == "__init__.py":
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            return None
        has_rev, rev = _assigned(tree, "revision")
        has_down, down = _assigned(tree, "down_revision")
        if not (has_rev and has_down) or not isinstance(rev, str):
            return None
        revisions.add(rev)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(d for d in down if isinstance(d, str))
        elif down is not None:
            return None
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def at_head(engine: Engine, *, versions: Path = _VERSIONS) -> str | None:
    """The head revision when the database is known to be at it, else None
    (not at head, or not sure: the caller then asks Alembic)."""
    head = shipped_head(versions)
    if head is None:
        return None
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:  # no version table yet, unreachable, ...: Alembic decides
        logger.debug("quick revision check not possible", exc_info=True)
        return None
    return head if [r[0] for r in rows] == [head] else None
