"""The kinship worker loop: claim a job under a lease, compute it, store the result and
finish the job in one transaction; repeat.

One loop serves ``kinhub worker`` (:class:`Worker`) and the nightly tick (:func:`drain`).
A job is taken in its own transaction (``kinhub.db.jobs.queue``: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite) under a lease a background thread
renews while the job computes.  What one job computes — the mode (exact or sampled, by
the weights' sizes), the checks of its inputs, the measurement and whether a failure
is permanent — is :mod:`kinhub.kinship.job`; the measurement's ``on_row`` hook marks
the job done in the transaction that stores the row.  The mode used is recorded on the
job.  In ``sketch`` mode (and in ``auto`` above ``KINHUB_SKETCH_MIN_BYTES``) a job is
answered from the three models' stored sketches (:func:`measure_by_sketches`).

Which Hub and which local folders a job's models are read from, and the one-line
end of a run whose Hub does not answer, are :mod:`kinhub.pipeline.worker_inputs`.

Settings come from :class:`~kinhub.pipeline.worker_settings.WorkerSettings`, whose
environment defaults are ``KINHUB_EXACT_MAX_BYTES`` (largest total of the three models
computed exactly in ``auto`` mode, default 30 GB), ``KINHUB_SKETCH_MIN_BYTES``,
``KINHUB_WORKER_LEASE_S`` and ``KINHUB_WORKER_RETRY_S``.

Failures: a permanent one fails the job at once with the reason; anything else is
retried with exponential backoff, ``max_attempts`` attempts in all, then fails with the
last error.  A worker that dies leaves its lease to expire; the job is then claimable
again.  :meth:`Worker.stop` (SIGINT/SIGTERM in ``kinhub worker``) gives the current job
back at the next tensor (exact mode) or lets it finish (sampled), then the loop ends.
After an exact job the revisions read are marked used and the HF cache is kept within
``cache_budget``, never evicting what a running job needs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kinhub.db.engine import Database
from kinhub.db.errors import KinhubError
from kinhub.db.jobs.queue import (
    ClaimedJob,
    claim_job,
    complete_job,
    fail_job,
    release_job,
    renew_lease,
    repos_in_use,
)
from kinhub.db.timeutil import utcnow
from kinhub.hub.config import choose_hub
from kinhub.kinship.job import (
    WeightSizes,
    choose_mode,
    explain_failure,
    measure_job,
)
from kinhub.kinship.service import Measurement, RowHook, looks_local
from kinhub.pipeline.worker_inputs import (
    job_refs,
    probe_hub,
    shown_endpoint,
    unreachable_cause,
    unreachable_error,
)
from kinhub.pipeline.worker_settings import (
    ENV_EXACT_MAX_BYTES,
    ENV_LEASE_S,
    ENV_RETRY_S,
    WorkerSettings,
    default_worker_id,
)

logger = logging.getLogger(__name__)

MAX_RETRY_S = 6 * 3600.0


class _Released(BaseException):
    """Raised from the progress hook to abandon the current job (stop or lost lease)."""

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why)


@dataclass(frozen=True)
class WorkerEvent:
    """What the worker reports to its caller (the CLI renders these on stderr).

    ``kind``: ``claimed``, ``mode``, ``progress`` (``done``/``total`` tensors),
    ``done``, ``retry``, ``failed``, ``released``, ``lost``, ``evicted``, ``idle``.
    """

    kind: str
    job: ClaimedJob | None = None
    detail: dict[str, Any] = field(default_factory=dict)


EventHook = Callable[[WorkerEvent], None]


@dataclass
class WorkerReport:
    """Counts of one run of the loop; ``to_dict`` is what ``kinhub worker`` prints and
    the scheduled tick records under ``kinship``."""

    worker_id: str
    status: str = "empty"  # empty | once | max-jobs | budget | stopped | idle
    claimed: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    lost: int = 0
    modes: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    seconds: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)
    evicted_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "worker_id": self.worker_id,
            "claimed": self.claimed,
            "done": self.done,
            "failed": self.failed,
            "retried": self.retried,
            "released": self.released,
            "lost": self.lost,
            "modes": dict(self.modes),
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "errors": list(self.errors),
            "evicted_bytes": self.evicted_bytes,
        }


class _LeaseKeeper:
    """Renews a job's lease every third of its length on a background thread."""

    def __init__(self, database: Database, job: ClaimedJob, lease_s: float) -> None:
        self.database = database
        self.job = job
        self.lease_s = lease_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = max(self.lease_s / 3.0, 0.05)
        while not self._stop.wait(interval):
            try:
                with self.database.write_transaction() as session:
                    held = renew_lease(
                        session, job_id=self.job.id, owner=self.job.owner, lease_s=self.lease_s
                    )
            except Exception as exc:  # the database is briefly unreachable: try again
                logger.warning("job %s: cannot renew the lease: %s", self.job.id, exc)
                continue
            if not held:
                logger.warning("job %s: lease lost (taken over or finished elsewhere)", self.job.id)
                self.lost.set()
                return


class Worker:
    """Claims and computes kinship jobs from ``database`` until told to stop."""

    def __init__(
        self,
        database: Database,
        settings: WorkerSettings | None = None,
        *,
        on_event: EventHook | None = None,
    ) -> None:
        self.database = database
        self.settings = settings or WorkerSettings()
        self.on_event = on_event
        self._stop = threading.Event()
        self._sizes = WeightSizes()
        # The Hub the jobs came from: the option, else HF_ENDPOINT, else the endpoint
        # and plan the database's last crawl stored (kinhub.hub.config.choose_hub).
        hub = choose_hub(database, endpoint=self.settings.endpoint, plan=self.settings.plan)
        self.settings = replace(self.settings, endpoint=hub.endpoint, plan=hub.plan)
        self.hub_source = hub.source
        self._hub_checked = False
        logger.info(
            "worker reads %s (%s), plan %s", shown_endpoint(hub.endpoint), hub.source, hub.plan
        )
        if hub.plan is not None:
            from kinhub.hub.ratelimit import RateLimits
            from kinhub.hub.shared import shared_client

            # Every Hub read of the engine goes through the shared client: its quotas.
            shared_client(hub.endpoint).limits = RateLimits.for_hub(hub.endpoint, hub.plan)

    # -- control ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end: the current job is released at its next tensor (exact
        mode) or finished (sampled); no new job is taken.  Thread- and signal-safe."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _emit(self, kind: str, job: ClaimedJob | None = None, **detail: Any) -> None:
        if self.on_event is not None:
            self.on_event(WorkerEvent(kind, job, detail))

    # -- the loop ---------------------------------------------------------------------

    def run(
        self,
        *,
        once: bool = False,
        until_empty: bool = False,
        max_jobs: int | None = None,
        time_budget_s: float | None = None,
    ) -> WorkerReport:
        """Take jobs one at a time.

        Ends after one job (``once``), when no job is due (``until_empty``: none
        pending and due, no expired lease; jobs other workers hold and retries waiting
        out their backoff are left), after ``max_jobs`` jobs, when ``time_budget_s``
        has passed (checked between jobs), or on :meth:`stop`.  Without ``once`` or
        ``until_empty`` an idle worker polls every ``poll_s`` seconds.
        """
        report = WorkerReport(worker_id=self.settings.worker_id)
        t0 = time.monotonic()
        while True:
            if self.stopping:
                report.status = "stopped"
                break
            if max_jobs is not None and report.claimed >= max_jobs:
                report.status = "max-jobs"
                break
            if time_budget_s is not None and time.monotonic() - t0 >= time_budget_s:
                report.status = "budget"
                break
            job = self._claim()
            if job is None:
                if once or until_empty:
                    report.status = "empty"
                    break
                self._emit("idle")
                wait = self.settings.poll_s
                if time_budget_s is not None:
                    wait = min(wait, max(0.0, time_budget_s - (time.monotonic() - t0)))
                self._stop.wait(wait)
                continue
            report.claimed += 1
            self._process(job, report)
            if once:
                report.status = "once"
                break
        report.seconds = time.monotonic() - t0
        return report

    def _claim(self) -> ClaimedJob | None:
        prefer: set[str] = set()
        if self.settings.mode not in ("sampled", "sketch"):  # only exact reads the cache
            from kinhub.hub.cache import cached_weights

            try:
                prefer = cached_weights(cache_dir=self._cache_path())
            except Exception as exc:  # an unreadable cache must not stop the worker
                logger.warning("cannot scan the HF cache: %s", exc)
        with self.database.write_transaction() as session:
            job = claim_job(
                session,
                owner=self.settings.worker_id,
                lease_s=self.settings.lease_s,
                max_attempts=self.settings.max_attempts,
                prefer=prefer,
            )
        if job is not None:
            logger.info(
                "job %s claimed: %s %s vs %s against %s (attempt %d)",
                job.id,
                job.kind,
                *job.refs,
                job.attempts,
            )
        return job

    def _cache_path(self) -> Path | None:
        return Path(self.settings.cache_dir) if self.settings.cache_dir else None

    # -- one job ----------------------------------------------------------------------

    def _process(self, job: ClaimedJob, report: WorkerReport) -> None:
        settings = self.settings
        mode: str | None = None
        with _LeaseKeeper(self.database, job, settings.lease_s) as lease:

            def progress(done: int, total: int) -> None:
                if lease.lost.is_set():
                    raise _Released("lease lost")
                if self.stopping:
                    raise _Released("worker stopping")
                self._emit("progress", job, done=done, total=total)

            def finish(session: Any, row: Any) -> None:
                complete_job(
                    session, job_id=job.id, owner=job.owner, kinship_id=row.id, mode=row.mode
                )

            try:
                refs = job_refs(self.database, job)
                if not self._hub_checked:
                    probe_hub(settings.endpoint, refs)
                    self._hub_checked = True
                self._emit("claimed", job)
                mode = choose_mode(
                    job,
                    mode=settings.mode,
                    exact_max_bytes=settings.exact_max_bytes,
                    sizes=self._sizes,
                    endpoint=settings.endpoint,
                    refs=refs,
                    sketch_min_bytes=settings.sketch_min_bytes,
                )
                self._emit("mode", job, mode=mode)
                if mode == "sketch":
                    measurement = measure_by_sketches(
                        self.database, job, settings=settings, on_row=finish
                    )
                else:
                    measurement = measure_job(
                        self.database,
                        job,
                        mode=mode,
                        metrics=settings.metrics,
                        sample=settings.sample,
                        seed=settings.seed,
                        endpoint=settings.endpoint,
                        cache_dir=settings.cache_dir,
                        progress=progress,
                        on_row=finish,
                        refs=refs,
                    )
            except _Released as stop:
                self._give_back(job, report, stop.why, lost=lease.lost.is_set())
                return
            except (KeyboardInterrupt, SystemExit):
                self._give_back(job, report, "interrupted", lost=lease.lost.is_set())
                raise
            except Exception as exc:
                cause = unreachable_cause(exc)
                if cause is not None:
                    # No job can work without the Hub: give this one back, end the run.
                    self._give_back(
                        job, report, "Hub unreachable", lost=lease.lost.is_set(), quiet=True
                    )
                    raise unreachable_error(
                        cause, endpoint=settings.endpoint, source=self.hub_source
                    ) from exc
                self._record_failure(job, report, exc, mode)
                return
        result = measurement.result
        report.done += 1
        report.modes[result.mode] = report.modes.get(result.mode, 0) + 1
        report.bytes_read += result.bytes_read
        logger.info(
            "job %s done (%s, %.2fs, %d bytes read%s)",
            job.id,
            result.mode,
            result.seconds,
            result.bytes_read,
            ", cached" if result.cached else "",
        )
        self._emit(
            "done",
            job,
            mode=result.mode,
            metrics=dict(result.metrics),
            bytes_read=result.bytes_read,
            seconds=result.seconds,
            cached=result.cached,
        )
        if result.mode == "exact":
            report.evicted_bytes += self._after_exact(job, result.revisions)

    def _give_back(
        self, job: ClaimedJob, report: WorkerReport, why: str, *, lost: bool, quiet: bool = False
    ) -> None:
        """Release ``job`` (or count it lost); ``quiet``: no event (the run's error says it)."""
        if lost:
            report.lost += 1
            logger.info("job %s abandoned: %s", job.id, why)
            self._emit("lost", job, reason=why)
            return
        with self.database.write_transaction() as session:
            release_job(session, job_id=job.id, owner=job.owner)
        report.released += 1
        logger.info("job %s released (%s)", job.id, why)
        if not quiet:
            self._emit("released", job, reason=why)

    def _record_failure(
        self, job: ClaimedJob, report: WorkerReport, exc: Exception, mode: str | None
    ) -> None:
        permanent, reason = explain_failure(job, exc, endpoint=self.settings.endpoint)
        retry_at: datetime | None = None
        if not permanent and job.attempts < self.settings.max_attempts:
            delay = min(self.settings.retry_s * 4 ** (job.attempts - 1), MAX_RETRY_S)
            retry_at = utcnow() + timedelta(seconds=delay)
        elif not permanent:
            reason = f"gave up after {job.attempts} attempts: {reason}"
        with self.database.write_transaction() as session:
            status = fail_job(
                session, job_id=job.id, owner=job.owner, error=reason, retry_at=retry_at, mode=mode
            )
        if status is None:
            report.lost += 1
            self._emit("lost", job, reason=reason)
            return
        if retry_at is not None:
            report.retried += 1
            logger.info("job %s failed (will retry at %s): %s", job.id, retry_at, reason)
            self._emit("retry", job, reason=reason, retry_at=retry_at.isoformat())
        else:
            report.failed += 1
            report.errors.append({"job": job.id, "error": reason})
            logger.info("job %s failed: %s", job.id, reason)
            self._emit("failed", job, reason=reason)

    def _after_exact(self, job: ClaimedJob, revisions: dict[str, str | None]) -> int:
        """Mark the revisions read as recently used; keep the cache within its budget.
        Returns the bytes evicted."""
        from kinhub.hub.cache import enforce_budget, mark_used

        cache = self._cache_path()
        try:
            for slot, repo in zip(("a", "b", "base"), job.repos, strict=True):
                commit = revisions.get(slot)
                if commit and not looks_local(repo):
                    mark_used(repo, commit, cache_dir=cache)
            if self.settings.cache_budget is None:
                return 0
            with self.database.session() as session:
                keep = repos_in_use(session)
            eviction = enforce_budget(self.settings.cache_budget, keep=keep, cache_dir=cache)
        except (OSError, KinhubError) as exc:
            logger.warning("cache upkeep failed: %s", exc)
            return 0
        if not eviction.deleted:
            return 0
        self._emit("evicted", job, **eviction.to_dict())
        return max(0, eviction.size_before - eviction.size_after)


def measure_by_sketches(
    database: Database, job: ClaimedJob, *, settings: WorkerSettings, on_row: RowHook
) -> Measurement:
    """Answer a pair or edge job from the three models' stored sketches, reading the
    sketches that are missing first; stored with mode ``sketch`` and 95% intervals.
    An edge job then checks its child's declared lineage against the sketches."""
    from kinhub.kinship.sketch_service import measure_from_sketches
    from kinhub.kinship.weight_check_service import check_models

    a, b, base = job.refs
    measurement = measure_from_sketches(
        database,
        a=a,
        b=b,
        base=base,
        metrics=settings.metrics,
        endpoint=settings.endpoint,
        on_row=on_row,
    )
    if job.kind == "edge" and job.child:
        check_models(database, [job.child], with_children=False)
    return measurement


@contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGINT/SIGTERM ask ``worker`` to stop (the current job is released or finished);
    a second signal interrupts at once.  Only in the main thread; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, _frame: Any) -> None:
        logger.warning("signal %d: finishing or releasing the current job", signum)
        worker.stop()
        for s, h in previous.items():
            signal.signal(s, h)

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            with suppress(ValueError, TypeError):
                signal.signal(s, h)


def drain(
    database: Database,
    *,
    budget_s: float,
    endpoint: str | None = None,
    plan: str | None = None,
    settings: WorkerSettings | None = None,
    on_event: EventHook | None = None,
) -> dict[str, Any]:
    """Compute due jobs until none is left or ``budget_s`` seconds have passed (the
    current job finishes); what the nightly tick and the demo run after their crawl.
    ``endpoint`` and ``plan`` (the crawl's Hub and account tier) apply when
    ``settings`` are not given.  Returns the run's counts (:meth:`WorkerReport.to_dict`).
    """
    settings = settings or WorkerSettings(endpoint=endpoint, plan=plan)
    worker = Worker(database, settings, on_event=on_event)
    return worker.run(until_empty=True, time_budget_s=budget_s).to_dict()


__all__ = [
    "ENV_EXACT_MAX_BYTES",
    "ENV_LEASE_S",
    "ENV_RETRY_S",
    "EventHook",
    "Worker",
    "WorkerEvent",
    "WorkerReport",
    "WorkerSettings",
    "default_worker_id",
    "drain",
    "stop_on_signals",
]
