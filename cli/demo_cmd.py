"""``kinhub demo``: the whole pipeline, offline, on a generated hub.

A synthetic hub (foundations, fine-tunes, three generations of mergekit merges,
MoE, gated repos, missing parents, broken cards, real tiny safetensors) is
served by the Hub emulator over HTTP; the real crawl reads it into the
database; then a third-generation merge's lineage is shown and the kinship of
two merge ingredients is computed through the Hub client and stored.
"""

from __future__ import annotations

from pathlib import Path

import typer
from kinhub.cli.common import OutputFormat, handle_errors, open_db, print_json, stderr, stdout
from kinhub.cli.crawl_cmd import print_summary, run_crawl
from kinhub.cli.kinship_cmd import json_safe, print_result
from kinhub.cli.lineage_cmd import lineage_tree
from kinhub.crawler.crawl import Scope
from kinhub.crawler.synthetic import MANIFEST_NAME, HubManifest, ManifestRepo, generate_hub
from kinhub.db.config import data_dir
from kinhub.db.lineage import lineage_sql
from kinhub.hub.emulator import HubEmulator
from kinhub.hub.ratelimit import Plan

_KINSHIP_METHODS = ("dare_ties", "ties", "task_arithmetic")


def _hub(root: Path, n_models: int) -> HubManifest:
    """Reuse a generated hub of the same size, else generate it (deterministic)."""
    if (root / MANIFEST_NAME).is_file():
        manifest = HubManifest.load(root)
        if manifest.weights and len(manifest.ids()) >= n_models:
            return manifest
    return generate_hub(root, n_models=n_models, seed=0, weights=True)


def _deepest_merge(manifest: HubManifest) -> ManifestRepo:
    merges = {r.id: r for r in manifest.repos.values() if r.kind == "merge"}

    def depth(repo_id: str) -> int:
        repo = merges.get(repo_id)
        return 0 if repo is None else 1 + max((depth(p) for p in repo.parents), default=0)

    return max(merges.values(), key=lambda r: (depth(r.id), r.id))


def _kinship_triple(manifest: HubManifest) -> tuple[str, str, str] | None:
    """Two fine-tuned ingredients of a task-arithmetic-style merge, and its base."""
    finetunes = {r.id for r in manifest.repos.values() if r.kind == "finetune"}
    for repo in manifest.repos.values():
        if repo.kind != "merge" or repo.method not in _KINSHIP_METHODS or not repo.base:
            continue
        ingredients = [p for p in repo.parents if p in finetunes]
        if len(ingredients) >= 2:
            return ingredients[0], ingredients[1], repo.base
    return None


def demo(
    ctx: typer.Context,
    models: int = typer.Option(120, "--models", min=20, help="Repos in the generated hub."),
    hub_dir: Path | None = typer.Option(
        None, "--hub-dir", help="Where the generated hub lives (default: the data directory)."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """Run kinhub end to end offline: generate a hub, serve it, crawl, lineage, kinship.

    Uses the selected database (root --db / KINHUB_DB, else the embedded SQLite
    default); running it again is incremental: the crawl finds nothing changed
    and the kinship comes from the database.
    """
    root = hub_dir or data_dir() / "demo-hub"
    with handle_errors():
        stderr.print(f"generating a synthetic hub of {models} repos in {root}", highlight=False)
        manifest = _hub(root, models)
        database = open_db(ctx)
        try:
            with HubEmulator(root) as emu:
                stderr.print(f"Hub emulator serving {root} at {emu.url}", highlight=False)
                report = run_crawl(
                    database,
                    scope=Scope.parse("merges"),
                    plan=Plan.pro,
                    endpoint=emu.url,
                    limit=None,
                    since=None,
                    concurrency=8,
                    page_size=1000,
                    retry_base_delay=0.2,
                    cache_dir=None,
                    show_progress=fmt is OutputFormat.table,
                )
                merge = _deepest_merge(manifest)
                with database.session() as session:
                    lineage = lineage_sql(session, merge.id, direction="up")
                triple = _kinship_triple(manifest)
                kinship = None
                if triple is not None:
                    a, b, base = triple
                    from kinhub.kinship.service import measure_kinship

                    kinship = measure_kinship(
                        database, a=a, b=b, base=base, metrics=["cs", "pcc", "ed"], endpoint=emu.url
                    )
        finally:
            database.dispose()
    if fmt is OutputFormat.json:
        print_json(
            {
                "hub": str(root),
                "crawl": report.to_dict(),
                "lineage": lineage.to_json(),
                "kinship": json_safe(kinship.to_dict()) if kinship else None,
            }
        )
        return
    print_summary(report.to_dict())
    stdout.print()
    stdout.print(lineage_tree(lineage, upward=True), soft_wrap=False)
    if kinship is not None:
        stdout.print()
        print_result(kinship)
    stdout.print(
        "\nnext: kinhub lineage MODEL --format json, kinhub kinship A B --base Z, "
        "kinhub crawl --endpoint URL",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
