"""The offline demo, top to bottom: a generated hub, served by the Hub emulator,
crawled into the database, the queued kinship jobs computed by the worker, a deep
merge's lineage (kinship on its merge edges) and one kinship measurement.

Everything the demo makes stays in its own directory: the generated hub in
``<dir>/hub``, a Hugging Face cache in ``<dir>/hf_home`` (``HF_HOME`` points
there while the demo runs and is restored afterwards), so the generated repos
never land in the user's real cache where later commands would read them as if
they were Hub models, and — unless another database is named — the database,
``<dir>/kinhub.db``.

The demo's emulator stops when the demo ends, so what the commands it suggests next
(``partners``, ``plan``, ``analyze gain``, ``export``) need is computed while its hub
is up (:func:`prepare_next`): the architecture signatures and kinships of the
partner search and of the planner's pool are measured and stored (the worker drains
what they queue), and those commands then answer from the database alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinhub.crawler.crawl import CrawlReport
from kinhub.crawler.scope import Scope
from kinhub.db.answers.lineage import Lineage, lineage_sql
from kinhub.db.engine import Database
from kinhub.hub.ratelimit import Plan
from kinhub.kinship.partners import ComputeOptions, suggest_partners
from kinhub.kinship.planner import plan_merges
from kinhub.kinship.service import Measurement, measure_kinship
from kinhub.pipeline.crawl import CrawlSettings, ProgressWithCalls, run_crawl
from kinhub.pipeline.worker import drain
from kinhub.sandbox.emulator import HubEmulator
from kinhub.sandbox.hub import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    HubManifest,
    ManifestRepo,
    generate_hub,
)

logger = logging.getLogger(__name__)

HUB_SUBDIR = "hub"
HF_HOME_SUBDIR = "hf_home"
DB_NAME = "kinhub.db"
# Models the planner's pool in the suggested ``kinhub plan`` holds.
PLAN_POOL_SIZE = 4
# Methods whose base is a task-vector anchor, so two ingredients share a base.
_KINSHIP_METHODS = ("dare_ties", "ties", "task_arithmetic")
# Set for the demo's duration: its own cache and endpoint, and no credentials
# (the demo only ever talks to its own emulator).
_ISOLATED_VARS = ("HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN")
# The worker's time budget in the demo (the generated models are tiny: far less is used).
DEMO_WORKER_BUDGET_S = 300.0
DEMO_METRICS = ("cs", "pcc", "ed")


def demo_database_url(directory: Path) -> str:
    """The demo's own SQLite database: ``<directory>/kinhub.db``."""
    return f"sqlite:///{directory / DB_NAME}"


@dataclass(frozen=True)
class NextSteps:
    """What the suggested next commands ask about (all stored by :func:`prepare_next`)."""

    partners_model: str
    plan_pool: tuple[str, ...]
    export_model: str
    plot: Path
    html: Path
    # commands the demo could not prepare (``partners``, ``plan``) → why; not suggested
    failed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DemoReport:
    """What the demo did: the crawl, the worker's counts, the lineage of the deepest
    merge and the kinship of two merge ingredients (None when the hub has no such
    pair)."""

    directory: Path
    hub_dir: Path
    hf_home: Path
    crawl: CrawlReport
    lineage: Lineage
    kinship: Measurement | None = None
    worker: dict[str, Any] | None = None
    next: NextSteps | None = None


@contextmanager
def isolated_hub_env(hf_home: Path, *, endpoint: str | None = None) -> Iterator[None]:
    """``HF_HOME`` (and ``HF_HUB_CACHE``) inside ``hf_home``, ``HF_ENDPOINT`` set to
    ``endpoint`` and no ``HF_TOKEN`` for the block; the old values come back after."""
    saved = {name: os.environ.get(name) for name in _ISOLATED_VARS}
    wanted: Mapping[str, str | None] = {
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": None,
    }
    try:
        for name, value in wanted.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def demo_hub(root: Path, *, n_models: int) -> HubManifest:
    """Reuse a generated hub of at least ``n_models`` repos, else generate one
    (deterministic, with real tiny weights)."""
    if (root / MANIFEST_NAME).is_file():
        manifest = HubManifest.load(root)
        current = manifest.generator >= GENERATOR_VERSION
        if current and manifest.weights and len(manifest.ids()) >= n_models:
            return manifest
    return generate_hub(root, n_models=n_models, seed=0, weights=True)


def deepest_merge(manifest: HubManifest) -> ManifestRepo:
    """The merge with the most merge generations above it (ties: the last id)."""
    merges = {r.id: r for r in manifest.repos.values() if r.kind == "merge"}

    def depth(repo_id: str) -> int:
        repo = merges.get(repo_id)
        return 0 if repo is None else 1 + max((depth(p) for p in repo.parents), default=0)

    return max(merges.values(), key=lambda r: (depth(r.id), r.id))


def kinship_triple(manifest: HubManifest) -> tuple[str, str, str] | None:
    """Two fine-tuned ingredients of a task-arithmetic-style merge, and its base."""
    finetunes = {r.id for r in manifest.repos.values() if r.kind == "finetune"}
    for repo in manifest.repos.values():
        if repo.kind != "merge" or repo.method not in _KINSHIP_METHODS or not repo.base:
            continue
        ingredients = [p for p in repo.parents if p in finetunes]
        if len(ingredients) >= 2:
            return ingredients[0], ingredients[1], repo.base
    return None


def _average(repo: ManifestRepo) -> float:
    return sum(repo.scores.values()) / len(repo.scores) if repo.scores else float("-inf")


def next_steps(manifest: HubManifest, directory: Path) -> NextSteps:
    """The models the suggested commands name: the deepest merge (partners, export) and
    the best-scoring readable merges of its family (the planner's pool)."""
    deepest = deepest_merge(manifest)
    merges = [
        r
        for r in manifest.repos.values()
        if r.kind in ("merge", "lazymerge") and r.scores and r.family == deepest.family
    ]
    merges.sort(key=lambda r: (-_average(r), r.id))
    return NextSteps(
        partners_model=deepest.id,
        plan_pool=tuple(r.id for r in merges[:PLAN_POOL_SIZE]),
        export_model=deepest.id,
        plot=directory / "gain.png",
        html=directory / "family.html",
    )


def prepare_next(
    database: Database,
    steps: NextSteps,
    *,
    endpoint: str,
    cache_dir: Path,
    say: Callable[[str], None],
) -> NextSteps:
    """Run the suggested partner search and plan while the hub is up, so their
    signatures and kinships are stored; the worker computes what they queue (until a
    search queues nothing more, at most three rounds).  A step that cannot be answered
    is reported through ``say`` and recorded in ``failed``, not raised (the demo goes
    on, and does not suggest that command)."""
    from kinhub.db.errors import KinhubError

    options = ComputeOptions(endpoint=endpoint, cache_dir=str(cache_dir))
    failed: dict[str, str] = {}
    if len(steps.plan_pool) < 2:
        failed["plan"] = "fewer than two merges with evaluations in the hub"
    say("measuring what the next commands need (partners, plan) while the hub is up")
    # The deepest merge first; in a tiny hub it may have no relative, then the pool's.
    choices = list(dict.fromkeys([steps.partners_model, *steps.plan_pool]))
    for _ in range(3):
        failed.pop("partners", None)
        queued = 0
        for choice in choices:
            try:
                queued += suggest_partners(database, model=choice, options=options).queued
            except KinhubError as exc:
                failed.setdefault("partners", str(exc))
                continue
            failed.pop("partners", None)
            choices = [choice]
            break
        if len(steps.plan_pool) >= 2:
            failed.pop("plan", None)
            try:
                plan_merges(database, pool=list(steps.plan_pool), options=options)
            except KinhubError as exc:
                failed["plan"] = str(exc)
        drained = drain(database, budget_s=DEMO_WORKER_BUDGET_S, endpoint=endpoint, plan="pro")
        if not queued and not drained.get("claimed"):
            break
    for command, reason in failed.items():
        say(f"not suggesting {command}: {reason}")
    return NextSteps(
        **{**steps.__dict__, "partners_model": choices[0], "failed": tuple(failed.items())}
    )


def run_demo(
    database: Database,
    *,
    directory: Path,
    n_models: int,
    progress: ProgressWithCalls | None = None,
    notify: Callable[[str], None] | None = None,
) -> DemoReport:
    """Generate (or reuse) a hub under ``directory``, serve it, crawl it into
    ``database`` (which queues kinship jobs for its merges), compute those jobs with the
    worker, read a third-generation merge's lineage (its merge edges carry the kinship
    the worker stored) and measure the kinship of two merge ingredients (answered from
    the worker's row).  A second run is incremental.

    ``notify`` receives one-line status messages (where the hub is, the emulator URL).

    Raises:
        KinhubError: whatever the crawl, the database or the kinship service raises.
    """
    say = notify or (lambda message: logger.info("%s", message))
    hub_dir, hf_home = directory / HUB_SUBDIR, directory / HF_HOME_SUBDIR
    hf_home.mkdir(parents=True, exist_ok=True)
    say(f"demo directory {directory} (Hugging Face cache: {hf_home})")
    say(f"generating a synthetic hub of {n_models} repos in {hub_dir}")
    manifest = demo_hub(hub_dir, n_models=n_models)
    with HubEmulator(hub_dir) as emu, isolated_hub_env(hf_home, endpoint=emu.url):
        say(f"Hub emulator serving {hub_dir} at {emu.url}")
        settings = CrawlSettings(
            scope=Scope.parse("merges"),
            plan=Plan.pro,
            endpoint=emu.url,
            retry_base_delay=0.2,
            cache_dir=hf_home / "hub",
        )
        report = run_crawl(database, settings=settings, progress=progress)

        say("kinship worker: computing the queued jobs")
        # The emulator has no quotas to keep to: the PRO tier's limits are never reached.
        worker = drain(database, budget_s=DEMO_WORKER_BUDGET_S, endpoint=emu.url, plan="pro")

        with database.session() as session:
            lineage = lineage_sql(session, deepest_merge(manifest).id, direction="up")

        kinship = None
        triple = kinship_triple(manifest)
        if triple is not None:
            a, b, base = triple
            kinship = measure_kinship(
                database,
                a=a,
                b=b,
                base=base,
                metrics=list(DEMO_METRICS),
                endpoint=emu.url,
                cache_dir=str(hf_home / "hub"),
            )
        steps = prepare_next(
            database,
            next_steps(manifest, directory),
            endpoint=emu.url,
            cache_dir=hf_home / "hub",
            say=say,
        )
    return DemoReport(
        directory=directory,
        hub_dir=hub_dir,
        hf_home=hf_home,
        crawl=report,
        lineage=lineage,
        kinship=kinship,
        worker=worker,
        next=steps,
    )


__all__ = [
    "DB_NAME",
    "DEMO_WORKER_BUDGET_S",
    "DemoReport",
    "NextSteps",
    "deepest_merge",
    "demo_database_url",
    "demo_hub",
    "isolated_hub_env",
    "kinship_triple",
    "next_steps",
    "prepare_next",
    "run_demo",
]
