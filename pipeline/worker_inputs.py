"""Where a worker reads a job's models: which Hub, which local folder, and what to
say when that Hub does not answer.

* The Hub is the one the jobs came from (``kinhub.hub.config.choose_hub``): the
  worker's ``--endpoint``, else ``HF_ENDPOINT``, else the endpoint the database's last
  crawl stored, else huggingface.co.
* A model ``kinhub ingest`` read from a local folder with weights is read from that
  folder (:func:`job_refs`): a path the user gave, never one from a crawled card.
* Before its first job a worker makes one quick request (:func:`probe_hub`); a Hub
  that does not answer at all — then or later — ends the run with one
  :class:`HubUnreachableError` (:func:`unreachable_error`) instead of a failed job per
  read and an exit 0.
"""

from __future__ import annotations

import logging

from kinhub.db.engine import Database
from kinhub.db.jobs.queue import ClaimedJob
from kinhub.db.settings import local_folders, shown_endpoint
from kinhub.hub.errors import HubUnreachableError
from kinhub.kinship.service import looks_local

logger = logging.getLogger(__name__)

# Where the endpoint came from (HubChoice.source), as the error names it.
_SOURCES = {
    "option": "--endpoint",
    "HF_ENDPOINT": "HF_ENDPOINT",
    "stored": "the database's last crawl",
    "default": "the default",
}


def job_refs(database: Database, job: ClaimedJob) -> tuple[str, str, str]:
    """The job's A, B and base as the worker reads them: the ingest folder of a model
    ``kinhub ingest`` recorded from one, else the Hub reference at its revision."""
    with database.session() as session:
        folders = local_folders(session, job.repos)
    if not folders:
        return job.refs
    a, b, base = (folders.get(repo, ref) for repo, ref in zip(job.repos, job.refs, strict=True))
    logger.info("job %s: local folders %s", job.id, folders)
    return a, b, base


def probe_hub(endpoint: str | None, refs: tuple[str, str, str]) -> None:
    """One quick request (three tries, backoff from half a second, retries not logged)
    about the first Hub model of ``refs``; any answer, even "not found", will do.

    Raises:
        HubUnreachableError: nothing answers at ``endpoint``.
    """
    hub_refs = [r for r in refs if not looks_local(r)]
    if not hub_refs:
        return
    from kinhub.hub.retry import RetryPolicy
    from kinhub.hub.shared import shared_client

    probe = shared_client(endpoint).with_retry(
        RetryPolicy(max_attempts=3, base_delay_s=0.5, log_retries=False)
    )
    try:
        probe.model_info(hub_refs[0].partition("@")[0])
    except HubUnreachableError:
        raise
    except Exception as exc:  # it answered; the job's own checks say what is wrong
        logger.debug("Hub probe answered: %s", exc)


def unreachable_cause(exc: BaseException) -> HubUnreachableError | None:
    """The :class:`HubUnreachableError` behind ``exc`` (itself or a cause), if any."""
    seen: BaseException | None = exc
    for _ in range(16):
        if seen is None:
            return None
        if isinstance(seen, HubUnreachableError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def unreachable_error(
    cause: HubUnreachableError, *, endpoint: str | None, source: str
) -> HubUnreachableError:
    """The run's one-line error: which Hub, where its URL came from, what to do."""
    url = shown_endpoint(cause.endpoint or endpoint or "")
    return HubUnreachableError(
        f"cannot reach the Hub at {url} (from {_SOURCES.get(source, source)}); "
        "jobs left queued — start it or pass --endpoint URL",
        endpoint=url,
    )


__all__ = ["job_refs", "probe_hub", "shown_endpoint", "unreachable_cause", "unreachable_error"]
