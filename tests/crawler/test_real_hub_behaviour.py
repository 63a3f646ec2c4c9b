"""A crawl through the Hub as it really behaves: a listing page that times out (504),
a malformed listing item, an anonymous 401 on a gated repo, a renamed repo and 429s
that still show requests remaining (r>0) — and it stores what a clean crawl stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kinhub.crawler.crawl import CrawlOptions
from kinhub.crawler.scope import Scope
from kinhub.db.aliases import aliases_of, resolve_alias
from kinhub.db.engine import Database, open_database
from kinhub.db.models import Edge, Model
from kinhub.hub.client import HubClient
from kinhub.hub.listing import LEGACY_LISTING_EXPAND
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy
from kinhub.pipeline.crawl import crawl_then_queue
from sqlmodel import select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import table_snapshot

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.2)
MERGE_CARD = """---
base_model:
- org/ft-a
- org/ft-b
tags: [merge, mergekit]
license: apache-2.0
---
# {name}

```yaml
models:
  - model: org/ft-a
  - model: org/ft-b
merge_method: slerp
base_model: org/ft-a
parameters:
  t: 0.5
dtype: bfloat16
```
"""
CONFIG = """models:
  - model: org/ft-a
  - model: org/ft-b
merge_method: slerp
base_model: org/ft-a
parameters:
  t: 0.5
dtype: bfloat16
"""


def _repo(root: Path, repo_id: str, files: dict[str, str], hub: dict[str, object]) -> None:
    folder = root / repo_id
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / ".hub.json").write_text(json.dumps(hub))


@pytest.fixture
def hub_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    root = tmp_path / "hub"

    def stamp(day: int) -> dict[str, object]:
        return {"lastModified": f"2024-03-{day:02d}T00:00:00.000Z"}

    _repo(root, "org/base", {"README.md": "---\nlicense: mit\n---\n# base\n"}, stamp(1))
    for day, name in ((2, "ft-a"), (3, "ft-b-new")):
        card = f"---\nbase_model: org/base\nlicense: mit\n---\n# {name}\n"
        _repo(root, f"org/{name}", {"README.md": card}, stamp(day))
    # ft-b was renamed ft-b-new; cards still name the old id.
    (root / ".renames.json").write_text(json.dumps({"org/ft-b": "org/ft-b-new"}))
    merge = {"README.md": MERGE_CARD.format(name="merge"), "mergekit_config.yml": CONFIG}
    _repo(root, "org/merge", merge, stamp(20))
    # The listing item of this one cannot be read (siblings without names).
    odd = {**stamp(21), "listingOverrides": {"siblings": [{"name": "README.md"}]}}
    _repo(root, "org/odd-item", {"README.md": MERGE_CARD.format(name="odd")}, odd)
    # Gated after it was listed: the listing still says open, the files answer 401.
    late = {**stamp(22), "gated": "manual", "listingOverrides": {"gated": False}}
    _repo(root, "org/gated-late", {"README.md": MERGE_CARD.format(name="late")}, late)
    # Gated, and the listing says so: an anonymous crawl does not ask for its files.
    _repo(root, "org/gated", {"README.md": MERGE_CARD.format(name="gated")}, {
        **stamp(23), "gated": "auto"})  # fmt: skip
    for i in range(25):
        card = f"---\nbase_model: org/base\n---\n# filler {i}\n"
        _repo(root, f"org/filler-{i:02d}", {"README.md": card}, stamp(4 + i % 15))
    return root


def _client(url: str, cache: Path, slept: list[float] | None = None, **kw: object) -> HubClient:
    sleep = slept.append if slept is not None else (lambda s: None)
    return HubClient(
        endpoint=url,
        cache_dir=cache,
        retry=FAST,
        limits=RateLimits.unlimited(),
        sleep=sleep,
        token=False,
        **kw,  # type: ignore[arg-type]
    )


def _clean(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> dict[str, list[tuple[object, ...]]]:
    database = open_database(f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        with hub_emulator(hub_root, heavy_page_limit=None) as emu:
            report = crawl_then_queue(
                database,
                _client(emu.url, tmp_path / "clean-cache"),
                CrawlOptions(scope=Scope.parse("full"), page_size=10),
            )
        assert report.complete and report.status == "ok"
        return table_snapshot(database)
    finally:
        database.dispose()


def test_crawl_through_the_real_hub_behaviour(
    hub_root: Path, tmp_path: Path, database: Database, hub_emulator: HubEmulators
) -> None:
    clean = _clean(hub_root, tmp_path, hub_emulator)
    slept: list[float] = []
    with hub_emulator(hub_root, heavy_page_limit=12) as emu:
        # 429s with requests left in the window (t=290): on a model_info and on a file.
        emu.add_fault(r"^GET /api/models/org/ft-b\b", "429r")
        emu.add_fault(r"^GET /org/merge/resolve/[^/]+/README\.md", "429r")
        hub = _client(emu.url, tmp_path / "cache", slept)
        report = crawl_then_queue(
            database, hub, CrawlOptions(scope=Scope.parse("full"), page_size=40)
        )
        stats = emu.stats()
        fired = {fault for _, fault in emu.app.script.fired}

    assert report.complete and report.status == "ok", report.to_dict()
    counts = report.counts
    assert "error" not in counts["errors"] and "private" not in counts["errors"]
    # The 504s: 40 → 20 → 10 items per page, and the crawl went on.
    assert stats["statuses"]["504"] == 2 and report.requests["page_shrinks"] == 2
    # The 429s with r>0: retried after a short backoff, never after their t=290.
    assert fired == {"429r"} and stats["statuses"]["429"] == 2
    assert slept and max(slept) < 1 and hub.limits.api.waited_s < 1
    # One malformed item, fetched through model_info.
    assert counts["listing_items_malformed"] == 1 and report.requests["malformed_items"] == 1
    # Anonymous 401 for the repo gated after listing; none for the one listed as gated.
    assert stats["statuses"]["401"] == 1
    # One rename.
    assert counts["renamed"] == 1

    with database.session() as session:
        models = {m.repo_id: m for m in session.exec(select(Model))}
        assert models["org/gated-late"].status == "gated"
        assert models["org/gated"].status == "gated"
        assert models["org/odd-item"].status == "ok" and models["org/odd-item"].sha
        assert models["org/ft-b"].status == "renamed" and models["org/ft-b"].sha is None
        assert models["org/ft-b-new"].status == "ok"
        assert resolve_alias(session, "org/ft-b") == "org/ft-b-new"
        assert aliases_of(session, "org/ft-b-new") == ["org/ft-b"]
        merge_parents = {
            models_by_id.repo_id
            for edge in session.exec(select(Edge).where(Edge.child_id == models["org/merge"].id))
            if (models_by_id := session.get(Model, edge.parent_id)) is not None
        }
        assert merge_parents == {"org/ft-a", "org/ft-b"}  # as the card names them

    # What a crawl of the same hub without timeouts and 429s stores.
    assert table_snapshot(database) == clean


def test_yesterdays_strategy_stores_the_same_with_more_resolver_requests(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    served = {}
    snapshots = {}
    strategies: dict[str, dict[str, object]] = {
        "direct": {},
        "legacy": {"files": "hf_hub_download", "expand": LEGACY_LISTING_EXPAND},
    }
    for name, kw in strategies.items():
        database = open_database(f"sqlite:///{tmp_path / f'{name}.db'}")
        try:
            with hub_emulator(hub_root, heavy_page_limit=None) as emu:
                hub = _client(emu.url, tmp_path / f"cache-{name}", **kw)
                options = CrawlOptions(
                    scope=Scope.parse("full"), page_size=10, legacy_strategy=name == "legacy"
                )
                report = crawl_then_queue(database, hub, options)
                served[name] = emu.stats()["requests"]
                assert report.requests["http"] == served[name]
                files = report.counts["files_downloaded"]
            snapshots[name] = table_snapshot(database)
        finally:
            database.dispose()
        assert files > 30
    assert snapshots["direct"] == snapshots["legacy"]
    assert served["direct"]["api"] == served["legacy"]["api"]
    assert served["direct"]["resolve"] < served["legacy"]["resolve"]


def test_a_file_the_hub_names_unchanged_is_not_downloaded_again(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'nightly.db'}")
    options = CrawlOptions(scope=Scope.parse("full"), page_size=10)
    try:
        with hub_emulator(hub_root, heavy_page_limit=None) as emu:
            crawl_then_queue(database, _client(emu.url, tmp_path / "cache"), options)
            # ft-a: a new commit that leaves its card alone; base: its card edited.
            (hub_root / "org/ft-a/notes.txt").write_text("a new file\n")
            card = hub_root / "org/base/README.md"
            card.write_text(card.read_text() + "\nMore words.\n")
            for repo in ("org/ft-a", "org/base"):
                (hub_root / repo / ".hub.json").write_text(
                    json.dumps({"lastModified": "2024-04-01T00:00:00.000Z"})
                )
            emu.reset_stats()
            report = crawl_then_queue(database, _client(emu.url, tmp_path / "cache"), options)
            served = emu.stats()["requests"]
        nightly = table_snapshot(database)
    finally:
        database.dispose()
    assert report.counts["changed"] == 2 and report.requests["files_reused"] == 1
    # ft-a's card: the 307 names the stored blob (1 request); base's card: 307 + GET.
    assert served["resolve"] == 1 + 2
    fresh = open_database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with hub_emulator(hub_root, heavy_page_limit=None) as emu:
            crawl_then_queue(fresh, _client(emu.url, tmp_path / "cache-fresh"), options)
        assert table_snapshot(fresh) == nightly
    finally:
        fresh.dispose()


def test_a_stored_repo_listed_under_a_new_id_is_one_model(
    hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'renamed.db'}")
    options = CrawlOptions(scope=Scope.parse("full"), page_size=10)
    try:
        with hub_emulator(hub_root, heavy_page_limit=None) as emu:
            crawl_then_queue(database, _client(emu.url, tmp_path / "cache"), options)
            # ft-a is renamed, then gets a commit: the listing shows it under its new id.
            (hub_root / "org/ft-a").rename(hub_root / "org/ft-a-v2")
            (hub_root / ".renames.json").write_text(
                json.dumps({"org/ft-b": "org/ft-b-new", "org/ft-a": "org/ft-a-v2"})
            )
            (hub_root / "org/ft-a-v2/.hub.json").write_text(
                json.dumps({"lastModified": "2024-04-01T00:00:00.000Z"})
            )
            emu.reload()
            report = crawl_then_queue(database, _client(emu.url, tmp_path / "cache"), options)
        assert report.counts["renamed"] == 1 and report.counts["new"] == 1
        with database.session() as session:
            models = {m.repo_id: m for m in session.exec(select(Model))}
            old, new = models["org/ft-a"], models["org/ft-a-v2"]
            assert old.status == "renamed" and new.status == "ok"
            assert resolve_alias(session, "org/ft-a") == "org/ft-a-v2"
            own_edges = [
                (session.get(Model, e.parent_id) or old).repo_id
                for e in session.exec(select(Edge).where(Edge.child_id == new.id))
            ]
            assert set(own_edges) == {"org/base"}
            # The old id keeps no facts of its own; cards naming it still point at it.
            assert not list(session.exec(select(Edge).where(Edge.child_id == old.id)))
            assert list(session.exec(select(Edge).where(Edge.parent_id == old.id)))
    finally:
        database.dispose()
