"""Time the Hub emulator on a snapshot: first listing (indexing), full paginated listing,
a filtered listing and model_info calls, through the real huggingface_hub client.

    python scripts/gen_hub.py /tmp/hub100k --models 100000 --no-weights
    python scripts/bench_emulator.py /tmp/hub100k
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    from huggingface_hub import HfApi
    from kinhub.sandbox.emulator import HubEmulator

    timings: dict[str, float] = {}
    start = time.perf_counter()
    with HubEmulator(args.snapshot) as emu:
        timings["start_s"] = time.perf_counter() - start
        api = HfApi(endpoint=emu.url)
        t = time.perf_counter()
        first = list(api.list_models(sort="lastModified", limit=args.page_size, expand=["sha"]))
        timings["first_page_s"] = time.perf_counter() - t
        t = time.perf_counter()
        n = sum(1 for _ in api.list_models(sort="lastModified", expand=["sha", "lastModified"]))
        timings["full_listing_s"] = time.perf_counter() - t
        t = time.perf_counter()
        merges = list(api.list_models(filter="mergekit", limit=100))
        timings["filtered_page_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for m in first[:50]:
            api.model_info(m.id)
        timings["model_info_ms"] = (time.perf_counter() - t) / max(1, min(50, len(first))) * 1000
        stats = emu.stats()
    result = {
        "models": n,
        "merges_page": len(merges),
        **{k: round(v, 3) for k, v in timings.items()},
        "api_requests": stats["requests"]["api"],
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
