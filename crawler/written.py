"""The hook the crawler calls after writing models: how what depends on the rows it
wrote (the kinship job queue) follows them, without the crawler knowing about it.

The crawl and the re-parse call ``on_written(session, repo_ids)`` once per write
transaction, in that transaction, with the ids of the models whose rows changed
(new or changed facts, a new status, an alias); the hook returns how many jobs it
queued, which the reports count as ``jobs_queued``.  Being in the same transaction
is the point: a crash never leaves written edges without the jobs they call for.
``kinhub.pipeline`` wires the job planner in; without a hook nothing is queued.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

OnWritten = Callable[[Session, list[str]], int]
"""``(session, repo ids whose rows changed) -> jobs queued``, called in the writing
transaction."""


__all__ = ["OnWritten"]
