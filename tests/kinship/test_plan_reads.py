"""`plan` reads no weights for pool models it cannot rank (no card evaluations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinhub.db.engine import Database
from kinhub.kinship.partners import ComputeOptions
from kinhub.kinship.planner import PlanPoolError, plan_merges
from kinhub.sandbox.families import MergeFamily

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl


def test_unevaluated_pool_fails_without_reading_weights(
    database: Database, merge_family: MergeFamily, hub_emulator: HubEmulators, tmp_path: Path
) -> None:
    # The merge family's cards have no model-index: nothing in this pool can be ranked.
    pool = ["m1/ties", "m1/dare-ties", "m2/slerp-slices", "m3/linear"]
    with hub_emulator(merge_family.root) as emu:
        run_crawl(database, emu.url, tmp_path / "crawl", scope="full")
        emu.reset_stats()
        options = ComputeOptions(endpoint=emu.url, cache_dir=str(tmp_path / "cache"))
        with pytest.raises(PlanPoolError, match="0 of 4 have both"):
            plan_merges(database, pool=pool, options=options)
        # Before: a signature read (Range requests for the headers) per pool model.
        assert sum(emu.stats()["requests"].values()) == 0
