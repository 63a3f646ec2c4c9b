"""What a crawl costs under the Hub's real quotas, today's strategy next to yesterday's.

    python scripts/bench_crawl.py --plan free|pro [--models 2000] [--root DIR]
        [--night-fraction 0.05] [--nightly-changed 1000] [--target 100000] [--json]

Generates (or reuses) a synthetic hub (weights=False) and serves it with the Hub
emulator in a child process — behaving as huggingface.co does: small files resolve
with a 307 to ``/api/resolve-cache/``, heavy listing pages time out (504), every
answer carries ``RateLimit`` headers.  Then, each into its own SQLite database:

* **initial crawl** (scope ``merges``: the merge listings, then every parent they
  name), by today's strategy and by *yesterday's* — the strategy of commit 2a055c4:
  ``hf_hub_download`` per file (HEAD, HEAD, GET: three resolver requests), the old
  ``expand`` list (``cardData``, ``private``), files asked for gated repos even when
  anonymous (``HubClient(files="hf_hub_download", expand=LEGACY_LISTING_EXPAND)``
  with ``CrawlOptions(legacy_strategy=True)``);
* **a night**: ``--night-fraction`` of the merge repos get a new commit — half edit
  their card, half add another file (the card's blob stays) — then a **refresh**
  crawl of each database.

Requests are counted by the emulator per quota (``api``; resolvers: ``/resolve/``
and ``/api/resolve-cache/``) — nothing sleeps for a quota.  The wall time a quota
imposes is then projected by accounting: requests ÷ quota per 5-minute window, for
an initial crawl of ``--target`` merge repos (per-listed-model costs of the
measured crawl, parents in the same proportion) and for a nightly refresh of
``--nightly-changed`` changed merge repos (per-changed-model costs of the measured
night), under ``--plan`` (free: 1,000 API / 5,000 resolver requests per 5 minutes;
pro: 2,500 / 12,000).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinhub.crawler.crawl import CrawlOptions  # noqa: E402
from kinhub.crawler.scope import MERGE_TAGS, Scope  # noqa: E402
from kinhub.db.engine import open_database  # noqa: E402
from kinhub.hub.client import HubClient  # noqa: E402
from kinhub.hub.listing import LEGACY_LISTING_EXPAND  # noqa: E402
from kinhub.hub.ratelimit import HUB_WINDOW_S, PLAN_QUOTAS, Plan, RateLimits  # noqa: E402
from kinhub.hub.retry import RetryPolicy  # noqa: E402
from kinhub.pipeline.crawl import crawl_then_queue  # noqa: E402

_SERVE = """
import sys
from pathlib import Path
from kinhub.sandbox.emulator import HubEmulator
emu = HubEmulator(Path(sys.argv[1]), latency_ms=float(sys.argv[2]))
emu.start()
print(emu.url, flush=True)
emu.serve_forever()
"""
STRATEGIES = ("yesterday", "today")
MERGE_KINDS = ("merge", "lazymerge", "moe")


def _emulator_call(url: str, path: str, *, post: bool = False) -> dict[str, Any]:
    # The emulator's own control endpoint, not the Hub API: plain stdlib is enough.
    request = urllib.request.Request(url + path, method="POST" if post else "GET")
    with urllib.request.urlopen(request, timeout=600) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _ensure_hub(root: Path, models: int) -> list[str]:
    """The ids of the hub's merge repos (generating the hub if needed)."""
    from kinhub.sandbox.hub import MANIFEST_NAME, HubManifest, generate_hub

    if (root / MANIFEST_NAME).is_file():
        manifest = HubManifest.load(root)
        print(f"reusing {len(manifest.repos)} repos in {root}", file=sys.stderr)
    else:
        start = time.perf_counter()
        manifest = generate_hub(root, n_models=models, seed=0, weights=False)
        print(f"generated {len(manifest.repos)} repos in {time.perf_counter() - start:.0f}s",
              file=sys.stderr)  # fmt: skip
    return sorted(
        r.id for r in manifest.repos.values() if r.kind in MERGE_KINDS and (root / r.id).is_dir()
    )


def _listing_sizes(url: str) -> dict[str, int]:
    """Items in each merge listing (light pages: ids only)."""
    sizes = {}
    for tag in MERGE_TAGS:
        next_url: str | None = f"{url}/api/models?filter={tag}&limit=1000&expand=sha"
        count = 0
        while next_url:
            with urllib.request.urlopen(next_url, timeout=600) as response:
                count += len(json.loads(response.read()))
                link = response.headers.get("Link") or ""
            next_url = link[1 : link.index(">")] if 'rel="next"' in link else None
        sizes[tag] = count
    return sizes


def _client(url: str, cache: Path, strategy: str) -> HubClient:
    extra: dict[str, Any] = {}
    if strategy == "yesterday":
        extra = {"files": "hf_hub_download", "expand": LEGACY_LISTING_EXPAND}
    return HubClient(
        endpoint=url, limits=RateLimits.unlimited(), retry=RetryPolicy(base_delay_s=0.05),
        cache_dir=cache, timeout_s=600, token=False, **extra,
    )  # fmt: skip


def _crawl(url: str, work: Path, strategy: str, phase: str, concurrency: int) -> dict[str, Any]:
    """One crawl of scope ``merges`` into the strategy's database; what it cost."""
    database = open_database(f"sqlite:///{work / f'{strategy}.db'}")
    _emulator_call(url, "/_emulator/reset", post=True)
    options = CrawlOptions(
        scope=Scope.parse("merges"),
        concurrency=concurrency,
        legacy_strategy=strategy == "yesterday",
    )
    start = time.perf_counter()
    try:
        hub = _client(url, work / f"cache-{strategy}-{phase}", strategy)
        report = crawl_then_queue(database, hub, options)
    finally:
        database.dispose()
    served = _emulator_call(url, "/_emulator/stats")
    counts = report.counts
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "listed": counts["models_seen"],
        "pages": counts["listing_pages"],
        "page_size": hub.page_limit or 1000,
        "references": counts["references_followed"],
        "changed_or_new": counts["new"] + counts["changed"],
        "files": counts["files_downloaded"],
        "requests": {"api": served["requests"]["api"], "resolvers": served["requests"]["resolve"]},
        "client_counted": report.requests["http"],
        "statuses": served["statuses"],
        "files_reused": report.requests.get("files_reused", 0),
        "page_shrinks": report.requests.get("page_shrinks", 0),
        "complete": report.complete,
    }


def _night(root: Path, merges: list[str], fraction: float) -> tuple[int, int]:
    """New commits on a sample of merge repos: half edit the card, half add a file."""
    rng = random.Random(1)
    sample = rng.sample(merges, max(2, round(len(merges) * fraction)))
    edited = 0
    # Later than anything listed before (the hub may be reused from an earlier night).
    newest = datetime.now(UTC)
    for hub_json in root.glob("*/*/.hub.json"):
        stamp = json.loads(hub_json.read_text()).get("lastModified")
        if isinstance(stamp, str):
            newest = max(newest, datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    for i, repo_id in enumerate(sample):
        folder = root / repo_id
        card = folder / "README.md"
        if i % 2 == 0 and card.is_file():
            card.write_text(card.read_text(encoding="utf-8") + "\nUpdated tonight.\n")
            edited += 1
        else:
            (folder / "NOTES.md").write_text(f"night note {i}\n")
        hub_json = folder / ".hub.json"
        settings = json.loads(hub_json.read_text()) if hub_json.is_file() else {}
        stamp = newest + timedelta(seconds=i + 1)
        settings["lastModified"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        hub_json.write_text(json.dumps(settings))
    return len(sample), edited


def _minutes(api: float, resolvers: float, plan: Plan) -> dict[str, float]:
    """Wall time the quotas impose: requests ÷ quota per 5-minute window, per bucket."""
    api_q, res_q = PLAN_QUOTAS[plan]
    window_min = HUB_WINDOW_S / 60
    by_api, by_res = api / api_q * window_min, resolvers / res_q * window_min
    return {
        "api_min": round(by_api, 1),
        "resolvers_min": round(by_res, 1),
        "minutes": round(max(by_api, by_res), 1),
        "bound_by": "api" if by_api >= by_res else "resolvers",
    }


def _project(
    run: dict[str, Any], *, per: float, scale: float, shares: list[float], plan: Plan
) -> dict[str, Any]:
    """``run``'s requests projected from ``per`` measured units to ``scale`` units.

    Listing pages grow with each listing's share of the units (``shares``), in pages
    of the size the crawl ended at (the Hub times out on larger ones); model_info calls
    and resolver requests grow per unit.
    """
    pages = sum(max(1, math.ceil(share * scale / run["page_size"])) for share in shares)
    api = pages + (run["requests"]["api"] - run["pages"]) / per * scale
    res = run["requests"]["resolvers"] / per * scale
    return {"api": round(api), "resolvers": round(res), "pages": pages, **_minutes(api, res, plan)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=["anonymous", "free", "pro"], default="free")
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--root", type=Path, default=None, help="hub directory (reused)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--night-fraction", type=float, default=0.05)
    parser.add_argument("--target", type=int, default=100_000, help="merge repos to project to")
    parser.add_argument("--nightly-changed", type=int, default=1000,
                        help="changed merge repos per night to project to")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    plan = Plan(args.plan)

    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    work = Path(tempfile.mkdtemp(prefix="kinhub-bench-"))
    root = args.root or work / "hub"
    merges = _ensure_hub(root, args.models)
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(root), str(args.latency_ms)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ), cwd=ROOT,
    )  # fmt: skip
    runs: dict[str, dict[str, Any]] = {}
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        urllib.request.urlopen(f"{url}/api/models?limit=1", timeout=3600).read()  # index
        sizes = _listing_sizes(url)
        for strategy in STRATEGIES:
            runs[f"{strategy}_initial"] = _crawl(url, work, strategy, "initial", args.concurrency)
            print(strategy, "initial", json.dumps(runs[f"{strategy}_initial"]), file=sys.stderr)
        changed, edited = _night(root, merges, args.night_fraction)
        for strategy in STRATEGIES:
            runs[f"{strategy}_nightly"] = _crawl(url, work, strategy, "nightly", args.concurrency)
            print(strategy, "nightly", json.dumps(runs[f"{strategy}_nightly"]), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)

    results: dict[str, Any] = {
        "plan": plan.value,
        "quota_per_5_min": dict(zip(("api", "resolvers"), PLAN_QUOTAS[plan], strict=True)),
        "hub_repos": args.models,
        "merge_repos": len(merges),
        "night": {"changed": changed, "card_edited": edited},
        "listing_sizes": sizes,
        "runs": runs,
        "strategies": {},
    }
    for strategy in STRATEGIES:
        first, night = runs[f"{strategy}_initial"], runs[f"{strategy}_nightly"]
        stored = first["listed"] + first["references"]
        shares = [size / first["listed"] for size in sizes.values()]
        results["strategies"][strategy] = {
            "resolvers_per_model": round(first["requests"]["resolvers"] / stored, 2),
            "api_per_model": round(first["requests"]["api"] / stored, 3),
            "resolvers_per_changed_model": round(night["requests"]["resolvers"] / changed, 2),
            "initial": _project(
                first, per=first["listed"], scale=args.target, shares=shares, plan=plan
            ),
            "nightly": _project(
                night, per=changed, scale=args.nightly_changed, shares=shares, plan=plan
            ),
        }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"plan {plan.value} ({results['quota_per_5_min']['api']:,} API / "
        f"{results['quota_per_5_min']['resolvers']:,} resolver requests per 5 min); measured "
        f"on {len(merges)} merge repos of a {args.models}-repo emulated hub, a night changing "
        f"{changed} ({edited} cards edited)"
    )
    print(
        f"{'strategy':<10} {'resolvers/model':>15} {'API/model':>9} {'resolvers/changed':>17}  "
        f"initial {args.target:,} merges (min)  nightly {args.nightly_changed:,} changed (min)"
    )
    for strategy, r in results["strategies"].items():
        first, night = r["initial"], r["nightly"]
        print(
            f"{strategy:<10} {r['resolvers_per_model']:>15} {r['api_per_model']:>9} "
            f"{r['resolvers_per_changed_model']:>17}  "
            f"{first['minutes']:>8} ({first['bound_by']}; {first['api']:,} API, "
            f"{first['resolvers']:,} res)  "
            f"{night['minutes']:>6} ({night['bound_by']}; {night['api']:,} API, "
            f"{night['resolvers']:,} res)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
