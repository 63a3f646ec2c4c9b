"""Calibrate and measure the weight check (``kinhub.kinship.weight_check``).

For each sibling correlation ``rho`` and seed, writes the checked family of
:mod:`kinhub.sandbox.checked` — true merges made by mergekit with every common method
at ordinary and extreme weights and densities, and planted lies (re-uploads claiming
merges, wrong parents of the right architecture, a wrong anchor, a sibling or another
foundation claimed as the fine-tuned parent) — serves it with the Hub emulator,
crawls it into a fresh SQLite database, sketches every model and runs the checks
exactly as ``kinhub sketch --all`` does.  Reports, over every judged edge: the
confusion counts, precision and recall of ``contradicted``, the true edges
contradicted (must be none), the lies missed, and each rule's score range for true
and false edges (the margins the thresholds sit in).

Needs mergekit (a test dependency: ``pip install -e .[test]``).

    python scripts/calibrate_weight_check.py --rho 0.2 0.5 0.7 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from kinhub.crawler.crawl import CrawlOptions
from kinhub.crawler.scope import Scope
from kinhub.db.answers.lineage import lineage_sql
from kinhub.db.engine import open_database
from kinhub.hub.client import HubClient
from kinhub.hub.ratelimit import RateLimits
from kinhub.kinship.sketch import sketch_models
from kinhub.kinship.weight_check_service import check_models
from kinhub.pipeline.crawl import crawl_then_queue
from kinhub.sandbox.checked import write_checked_family
from kinhub.sandbox.emulator import HubEmulator


def run_mergekit(config: dict[str, Any], out: Path) -> None:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    run_merge(
        MergeConfiguration.model_validate(config),
        str(out),
        MergeOptions(copy_tokenizer=False, quiet=True, random_seed=1, write_model_card=False),
    )


def one_family(rho: float, seed: int, work: Path) -> list[dict[str, Any]]:
    """Every judged edge of one family: expected and found verdict, rule, score."""
    expected = write_checked_family(work / "hub", merge=run_mergekit, rho=rho, seed=seed)
    db = open_database(f"sqlite:///{work / 'kinhub.db'}")
    try:
        with HubEmulator(work / "hub") as emu:
            hub = HubClient(endpoint=emu.url, limits=RateLimits.unlimited())
            crawl_then_queue(db, hub, CrawlOptions(scope=Scope.parse("full", None)))
            sketch_models(db, [], all_models=True, endpoint=emu.url)
        check_models(db)
        rows = []
        with db.connection() as conn:
            for child in sorted({c for c, _ in expected}):
                for edge in lineage_sql(conn, child, direction="up", depth=1).edges:
                    key = (edge.child, edge.parent)
                    if key not in expected:
                        continue
                    check = edge.weight_check
                    rows.append(
                        {
                            "rho": rho,
                            "seed": seed,
                            "child": edge.child,
                            "parent": edge.parent,
                            "expected": expected[key],
                            "found": check["verdict"],
                            "rule": (check.get("evidence") or {}).get("rule"),
                            "score": check.get("score"),
                        }
                    )
        return rows
    finally:
        db.dispose()


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tp = sum(r["expected"] == r["found"] == "contradicted" for r in rows)
    fp = sum(r["expected"] != "contradicted" and r["found"] == "contradicted" for r in rows)
    fn = sum(r["expected"] == "contradicted" and r["found"] != "contradicted" for r in rows)
    ranges: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["score"] is not None:
            ranges[r["rule"]][r["expected"]].append(r["score"])
    return {
        "edges": len(rows),
        "true_edges": sum(r["expected"] == "consistent" for r in rows),
        "lies": sum(r["expected"] == "contradicted" for r in rows),
        "contradicted_true_edges": fp,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "unverified": sum(r["found"] == "unverified" for r in rows),
        "missed": sorted({f"{r['child']} → {r['parent']} (rho {r['rho']}, score {r['score']})"
                          for r in rows
                          if r["expected"] == "contradicted" and r["found"] != "contradicted"}),
        "score_ranges": {
            rule: {k: [min(v), max(v)] for k, v in by.items()} for rule, by in ranges.items()
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rho", type=float, nargs="+", default=[0.2, 0.5, 0.7])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--json", type=Path, help="also write every edge's row here")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for rho in args.rho:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory(prefix="kinhub-calibrate-") as tmp:
                found = one_family(rho, seed, Path(tmp))
            rows.extend(found)
            print(f"rho {rho} seed {seed}: {json.dumps(report(found)['score_ranges'])}",
                  file=sys.stderr)  # fmt: skip
    summary = {"by_rho": {}, "all": report(rows)}
    for rho in args.rho:
        summary["by_rho"][str(rho)] = report([r for r in rows if r["rho"] == rho])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
