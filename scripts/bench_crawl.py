"""Benchmark the crawl against an emulated hub, next to the naive strategy.

    python scripts/bench_crawl.py [--models 100000] [--root DIR] [--latency-ms 30]
                                  [--baseline-sample 300] [--concurrency 8]

Generates (or reuses) a synthetic hub (weights=False), serves it with the Hub
emulator in a child process (so server and crawler do not share one GIL) with a
fixed latency per request, then measures on SQLite in a temporary directory:

* kinhub's crawl, scope ``full`` (every model): listing with ``expand=``, files
  only on a new sha, parents followed — models/s and requests per bucket.  With
  ``--crawl-models N`` only the N newest are crawled (``--since``) and parents
  are not followed (a full crawl lists them itself); the whole-hub time is then
  extrapolated linearly;
* the same crawl again with nothing changed (the incremental cost);
* the naive strategy on a sample of ``--baseline-sample`` models — list without
  ``expand``, one ``model_info`` per model, download every card (and config),
  parsed and stored by the same code — with the same concurrency, *extrapolated
  linearly* to the whole hub.

Both measure raw throughput (no client-side quota).  The Hub's quotas per
5-minute window then bound the wall time from below; that floor is printed
per plan from the request counts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinhub.crawler.crawl import Crawler, CrawlOptions, CrawlProgress, Scope, crawl  # noqa: E402
from kinhub.db.engine import open_database  # noqa: E402
from kinhub.db.timeutil import parse_hub_time  # noqa: E402
from kinhub.hub.client import HubClient, RetryPolicy  # noqa: E402
from kinhub.hub.ratelimit import HUB_WINDOW_S, PLAN_QUOTAS, RateLimits  # noqa: E402

_SERVE = """
import sys
from pathlib import Path
from kinhub.hub.emulator import HubEmulator
emu = HubEmulator(Path(sys.argv[1]), latency_ms=float(sys.argv[2]))
emu.start()
print(emu.url, flush=True)
emu.serve_forever()
"""


def _emulator_call(url: str, path: str, *, post: bool = False) -> dict[str, Any]:
    # The emulator's own control endpoint, not the Hub API: plain stdlib is enough.
    request = urllib.request.Request(url + path, method="POST" if post else "GET")
    with urllib.request.urlopen(request, timeout=600) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _ensure_hub(root: Path, models: int) -> list[str]:
    """The hub's lastModified dates, newest first (generating the hub if needed)."""
    from kinhub.crawler.synthetic import MANIFEST_NAME, HubManifest, generate_hub

    if (root / MANIFEST_NAME).is_file():
        manifest = HubManifest.load(root)
        print(f"reusing {len(manifest.repos)} repos in {root}", file=sys.stderr)
    else:
        start = time.perf_counter()
        manifest = generate_hub(root, n_models=models, seed=0, weights=False)
        print(
            f"generated {len(manifest.repos)} repos in {time.perf_counter() - start:.0f}s",
            file=sys.stderr,
        )
    # Repos that do not exist (missing parents) are in the manifest without a date.
    return sorted((r.last_modified for r in manifest.repos.values() if r.last_modified),
                  reverse=True)  # fmt: skip


def _floor_minutes(api: float, resolve: float) -> dict[str, float]:
    """Wall-time floor (minutes) imposed by each plan's quotas for these counts."""
    out = {}
    for plan, (api_q, resolve_q) in PLAN_QUOTAS.items():
        windows = max(math.ceil(api / api_q), math.ceil(resolve / resolve_q))
        out[plan.value] = round(max(0, windows - 1) * HUB_WINDOW_S / 60, 1)
    return out


def _client(url: str, cache: Path) -> HubClient:
    return HubClient(
        endpoint=url, limits=RateLimits.unlimited(), retry=RetryPolicy(base_delay_s=0.1),
        cache_dir=cache, timeout_s=600,
    )  # fmt: skip


def _naive(url: str, work: Path, sample: int, concurrency: int) -> tuple[float, int]:
    """List ids without expand, then per model one model_info and its files, parsed
    and stored by the same code as kinhub's (its reference path), on a sample."""
    hub = _client(url, work / "cache-naive")
    database = open_database(f"sqlite:///{work / 'naive.db'}")
    start = time.perf_counter()
    ids: list[str] = []
    next_url: str | None = hub.listing_url(expand=(), page_size=min(1000, sample))
    while next_url and len(ids) < sample:
        page = hub.list_page(next_url)
        ids += [m.repo_id for m in page.models]
        next_url = page.next_url
    Crawler(database, hub, CrawlOptions(concurrency=concurrency)).follow(ids[:sample])
    seconds = time.perf_counter() - start
    database.dispose()
    return seconds, min(sample, len(ids))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--root", type=Path, default=None, help="hub directory (reused)")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--crawl-models",
        type=int,
        default=None,
        help="crawl only the N most recently modified models (via --since), default all",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    work = Path(tempfile.mkdtemp(prefix="kinhub-bench-"))
    root = args.root or Path(tempfile.gettempdir()) / f"kinhub-bench-hub-{args.models}"
    dates = _ensure_hub(root, args.models)
    total = len(dates)
    crawl_n = min(args.crawl_models or total, total)
    since = parse_hub_time(dates[crawl_n - 1]) if crawl_n < total else None

    env = dict(os.environ)
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(root), str(args.latency_ms)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        # Warm-up: the emulator derives every repo's metadata on its first listing.
        warm = time.perf_counter()
        urllib.request.urlopen(f"{url}/api/models?limit=1", timeout=3600).read()
        print(f"emulator indexed the hub in {time.perf_counter() - warm:.0f}s", file=sys.stderr)
        results: dict[str, Any] = {"repos": total, "latency_ms": args.latency_ms}
        # The naive baseline first: it is short, so a long crawl cut off still has it.
        _emulator_call(url, "/_emulator/reset", post=True)
        seconds, sample = _naive(url, work, args.baseline_sample, args.concurrency)
        served = _emulator_call(url, "/_emulator/stats")["requests"]
        scale = total / sample
        api, resolve = served["api"] * scale, served["resolve"] * scale
        results["naive_extrapolated"] = {
            "sample": sample,
            "sample_seconds": round(seconds, 1),
            "sample_requests": served,
            "seconds": round(seconds * scale, 1),
            "models_per_s": round(sample / seconds, 1),
            "requests": {"api": round(api), "resolve": round(resolve)},
            "quota_floor_min": _floor_minutes(api, resolve),
        }

        database = open_database(f"sqlite:///{work / 'bench.db'}")
        # A partial crawl does not follow parents: in a full crawl they are listed
        # themselves, so listing + files is what scales to the whole hub.
        options = CrawlOptions(
            scope=Scope.parse("full"),
            concurrency=args.concurrency,
            since=since,
            follow_references=since is None,
        )
        _emulator_call(url, "/_emulator/reset", post=True)
        start = time.perf_counter()

        def progress(event: CrawlProgress) -> None:
            # A partial run still leaves its throughput on stderr.
            seen, files = event.counts["models_seen"], event.counts["files_downloaded"]
            elapsed = time.perf_counter() - start
            print(
                f"[{elapsed:7.0f}s] {event.phase}: {seen} models, "
                f"{seen / max(elapsed, 1e-9):.1f} models/s, files {files}",
                file=sys.stderr,
                flush=True,
            )

        report = crawl(database, _client(url, work / "cache1"), options, progress=progress)
        seconds = time.perf_counter() - start
        served = _emulator_call(url, "/_emulator/stats")["requests"]
        results["kinhub_first"] = {
            "seconds": round(seconds, 1),
            "models": report.counts["models_seen"] + report.counts["references_followed"],
            "models_per_s": round(
                (report.counts["models_seen"] + report.counts["references_followed"]) / seconds, 1
            ),
            "since": dates[crawl_n - 1] if since else None,
            # A partial crawl also fetches the (older) parents of what it lists; a
            # full crawl stores each repo once, so scale by the models stored.
            "full_hub_seconds_extrapolated": round(
                seconds
                * total
                / max(1, report.counts["models_seen"] + report.counts["references_followed"]),
                1,
            ),
            "requests": served,
            "quota_floor_min": _floor_minutes(served["api"], served["resolve"]),
            "counts": report.counts,
        }

        # Also on stderr now: a later step cut off still leaves these figures.
        print(json.dumps({k: results[k] for k in ("naive_extrapolated", "kinhub_first")}),
              file=sys.stderr, flush=True)  # fmt: skip
        _emulator_call(url, "/_emulator/reset", post=True)
        start = time.perf_counter()
        # Nothing changed since: each listing stops at the high-water mark.
        again = CrawlOptions(
            scope=Scope.parse("full"),
            concurrency=args.concurrency,
            follow_references=options.follow_references,
        )
        crawl(database, _client(url, work / "cache2"), again)
        served = _emulator_call(url, "/_emulator/stats")["requests"]
        results["kinhub_incremental"] = {
            "seconds": round(time.perf_counter() - start, 2),
            "requests": served,
        }
        database.dispose()

    finally:
        server.terminate()
        server.wait(10)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    first, inc, naive = (
        results["kinhub_first"],
        results["kinhub_incremental"],
        results["naive_extrapolated"],
    )
    print(
        f"hub: {total} repos, {args.latency_ms:.0f} ms per request, concurrency {args.concurrency}"
    )
    c = first["counts"]
    scope = (
        f"the models changed since {first['since']} (parents not followed)"
        if first["since"]
        else "every model"
    )
    print(
        f"kinhub first crawl of {scope}: {c['models_seen']} listed + "
        f"{c['references_followed']} parents followed; whole hub extrapolated "
        f"{first['full_hub_seconds_extrapolated']} s"
    )
    print(
        f"kinhub first crawl : {first['seconds']:>8.1f} s  {first['models_per_s']:>7.1f} models/s  "
        f"api {first['requests']['api']:>7}  resolve {first['requests']['resolve']:>7}  "
        f"quota floor (min) {first['quota_floor_min']}"
    )
    print(
        f"kinhub re-crawl    : {inc['seconds']:>8.2f} s  api {inc['requests']['api']}  "
        f"resolve {inc['requests']['resolve']}"
    )
    print(
        f"naive (extrapolated from {naive['sample']} models): {naive['seconds']:>8.1f} s  "
        f"{naive['models_per_s']:>7.1f} models/s  api {naive['requests']['api']:>7}  "
        f"resolve {naive['requests']['resolve']:>7}  quota floor (min) {naive['quota_floor_min']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
