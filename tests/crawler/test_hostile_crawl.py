"""One hostile repo never stops a crawl (issue 16): strings cleaned at the boundary,
numbers bounded, one model's failure recorded on that model, with backoff."""

from __future__ import annotations

import json
import struct
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kinhub.crawler import facts as parser_facts
from kinhub.crawler.clean import MAX_DEPTH, HostileInputError, clean_record
from kinhub.crawler.crawl import CrawlOptions, crawl
from kinhub.crawler.scope import Scope
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Model, ModelText
from kinhub.db.records import EdgeRecord, ModelRecord
from kinhub.db.store import retry_delay
from kinhub.db.timeutil import utcnow
from sqlmodel import Session, col, select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import hub_client, run_crawl

GOOD = {
    "good/base": {"README.md": "---\nlicense: mit\n---\n# base\n"},
    "good/tuned": {"README.md": "---\nbase_model: good/base\nlicense: mit\n---\n# tuned\n"},
}


def _models(database: Database) -> dict[str, Model]:
    with database.session() as session:
        return {m.repo_id: m for m in session.exec(select(Model))}


def _safetensors(header: dict[str, Any]) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def test_nul_and_control_characters_never_abort_a_crawl(
    database: Database, hub_emulator: HubEmulators, tmp_path: Path
) -> None:
    hub = {
        **GOOD,
        "bad/nul": {
            "README.md": (
                "---\nbase_model: good/base\x00evil\nlicense: mit\x1b[31m\ntags:\n"
                "- a\x00b\n---\n# hi\x00 there\n\n```yaml\nmerge_method: linear\nmodels:\n"
                "  - model: good/base\n    parameters: {weight: 0.5}\n"
                "  - model: org/x\x07y\n    parameters: {weight: 0.5}\n```\n"
            )
        },
    }
    with hub_emulator(hub) as emu:
        for _ in range(2):  # the next crawl as well: nothing poisons the database
            report = run_crawl(database, emu.url, tmp_path / "cache")
            assert report.status == "ok"
    models = _models(database)
    assert {"good/base", "good/tuned", "bad/nul"} <= set(models)
    bad = models["bad/nul"]
    assert bad.status == "ok"
    assert bad.license is None or "\x1b" not in bad.license
    assert all("\x00" not in tag for tag in bad.tags)
    with database.session() as session:
        parents = {
            m.repo_id: m.status
            for m in session.exec(
                select(Model)
                .join(Edge, col(Edge.parent_id) == col(Model.id))
                .where(col(Edge.child_id) == bad.id)
            )
        }
        text = session.get(ModelText, bad.id)
    # Replaced, not removed: the hostile reference never becomes another valid id.
    assert "good/base\ufffdevil" in parents and parents["good/base\ufffdevil"] == "unresolved"
    assert "org/x\ufffdy" in parents and parents["org/x\ufffdy"] == "unresolved"
    assert "good/baseevil" not in parents
    assert text is not None and text.card_text is not None
    assert "\x00" not in text.card_text and "hi\ufffd there" in text.card_text


def test_a_huge_parameter_total_is_null_with_a_warning(
    database: Database, hub_emulator: HubEmulators, tmp_path: Path
) -> None:
    header = {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 0]}}
    hub = {
        **GOOD,
        "bad/huge": {
            "README.md": "---\nlicense: mit\n---\n",
            "model.safetensors": _safetensors(header),
        },
    }
    with hub_emulator(hub) as emu:
        report = run_crawl(database, emu.url, tmp_path / "cache")
    assert report.status == "ok"
    models = _models(database)
    assert {"good/base", "good/tuned", "bad/huge"} <= set(models)
    huge = models["bad/huge"]
    assert huge.status == "ok" and huge.num_parameters is None
    assert huge.last_error is not None and "num_parameters" in huge.last_error


def test_nesting_beyond_the_bound_is_refused() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    edge = EdgeRecord(
        parent="a/b",
        relation="merge",
        role="ingredient",
        source="card_recipe",
        parameters={"w": deep},
    )
    with pytest.raises(HostileInputError):
        clean_record(ModelRecord(repo_id="x/y", edges=[edge]))
    record, warnings = clean_record(ModelRecord(repo_id="x/y", likes=2**40, hidden_size=-(2**31)))
    assert record.likes is None and record.hidden_size == -(2**31) and len(warnings) == 1


@pytest.fixture
def poison_parser(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A parser that raises on one card (the way an unknown parser bug would)."""
    real = parser_facts.model_facts

    def facts(**kwargs: Any) -> Any:
        if "POISON" in (kwargs.get("card_text") or ""):
            raise RecursionError("maximum recursion depth exceeded")
        return real(**kwargs)

    monkeypatch.setattr(parser_facts, "model_facts", facts)
    yield


def test_one_poison_model_is_recorded_and_retried_with_backoff(
    database: Database, hub_emulator: HubEmulators, tmp_path: Path, poison_parser: None
) -> None:
    hub = {**GOOD, "bad/poison": {"README.md": "---\nlicense: mit\n---\nPOISON\n"}}
    with hub_emulator(hub) as emu:
        first = run_crawl(database, emu.url, tmp_path / "cache")
        assert first.status == "ok" and first.counts["models_in_error"] == 1
        models = _models(database)
        assert {"good/base", "good/tuned"} <= set(models)
        poison = models["bad/poison"]
        assert poison.status == "error" and poison.error_count == 1
        assert poison.last_error is not None and poison.last_error.startswith("RecursionError")
        assert "\n" not in poison.last_error
        # The next crawl tries it once more; then it waits.
        second = run_crawl(database, emu.url, tmp_path / "cache")
        assert second.counts["models_in_error"] == 1
        poison = _models(database)["bad/poison"]
        assert poison.error_count == 2 and poison.retry_after is not None
        wait = poison.retry_after - utcnow()
        assert timedelta(hours=11) < wait <= retry_delay(2)
        third = run_crawl(database, emu.url, tmp_path / "cache")
        assert third.counts["models_in_error"] == 0 and third.counts["models_backing_off"] == 1
        assert _models(database)["bad/poison"].error_count == 2
    assert retry_delay(3) > retry_delay(2) and retry_delay(40) == timedelta(days=30)


def test_a_write_that_fails_for_one_model_is_recorded_on_it(
    database: Database, hub_emulator: HubEmulators, tmp_path: Path
) -> None:
    def on_written(session: Session, repo_ids: list[str]) -> int:
        if "bad/writer" in repo_ids:
            raise ValueError("planning blew up\non two lines")
        return 0

    hub = {**GOOD, "bad/writer": {"README.md": "---\nlicense: mit\n---\n"}}
    with hub_emulator(hub) as emu:
        report = crawl(
            database,
            hub_client(emu.url, tmp_path / "cache"),
            CrawlOptions(scope=Scope.parse("full", None)),
            on_written=on_written,
        )
    assert report.status == "ok" and report.counts["models_in_error"] == 1
    models = _models(database)
    assert models["good/base"].status == "ok" and models["good/tuned"].status == "ok"
    writer = models["bad/writer"]
    assert writer.status == "error"
    assert writer.last_error == "ValueError: planning blew up on two lines"


def test_references_followed_per_model_are_capped(
    database: Database, hub_emulator: HubEmulators, tmp_path: Path
) -> None:
    from kinhub.crawler.clean import MAX_FOLLOWED_REFERENCES
    from kinhub.sandbox.hostile import many_parents

    n = 1000
    hub: dict[str, Any] = {
        **GOOD,
        **many_parents(n),
        # Another model names one of the unfollowed parents: that one is followed.
        "good/child": {"README.md": "---\nbase_model: ghost/parent-00999\n---\n"},
    }
    with hub_emulator(hub) as emu:
        report = run_crawl(database, emu.url, tmp_path / "cache")
    assert report.status == "ok"
    assert report.counts["references_followed"] == MAX_FOLLOWED_REFERENCES + 1
    models = _models(database)
    statuses = Counter(m.status for r, m in models.items() if r.startswith("ghost/"))
    assert statuses == {"not_found": MAX_FOLLOWED_REFERENCES + 1, "unresolved": n - 65}
    assert models["ghost/parent-00999"].status == "not_found"
    hostile = models["hostile/many-parents"]
    assert hostile.status == "ok" and "kept unresolved" in (hostile.last_error or "")
    with database.session() as session:
        edges = session.exec(select(Edge).where(col(Edge.child_id) == hostile.id)).all()
    assert len({e.parent_id for e in edges}) == n  # every parent kept, as an edge


def test_ingest_records_are_cleaned_the_same_way(database: Database, tmp_path: Path) -> None:
    from kinhub.pipeline.ingest import ingest_folder
    from kinhub.sandbox.hostile import nul_card

    [(_, files)] = nul_card(name="local/model").items()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "README.md").write_text(str(files["README.md"]), encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps({"model_type": "llama\x00", "hidden_size": 2**40, "vocab_size": 2**70})
    )
    report = ingest_folder(database, folder=folder, repo_id="local/model")
    assert "good/base\ufffdevil" in report.parents
    model = _models(database)["local/model"]
    assert model.model_type == "llama\ufffd" and model.hidden_size is None
    assert model.vocab_size is None and "hidden_size" in (model.last_error or "")


def test_the_crawl_command_exits_0_and_show_tells_the_error(
    database_url: str, hub_emulator: HubEmulators, poison_parser: None
) -> None:
    from kinhub.cli.app import app
    from typer.testing import CliRunner

    hub = {**GOOD, "bad/poison": {"README.md": "---\nlicense: mit\n---\nPOISON\n"}}
    runner = CliRunner()
    with hub_emulator(hub) as emu:
        crawled = runner.invoke(
            app,
            [
                "--db",
                database_url,
                "crawl",
                "--scope",
                "full",
                "--endpoint",
                emu.url,
                "--format",
                "json",
                "-q",
            ],
        )
    assert crawled.exit_code == 0, crawled.output
    assert json.loads(crawled.stdout)["models_in_error"] == 1
    shown = runner.invoke(app, ["--db", database_url, "show", "bad/poison", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    crawl_facts = json.loads(shown.stdout)["crawl"]
    assert crawl_facts["status"] == "error" and crawl_facts["error_count"] == 1
    assert crawl_facts["last_error"].startswith("RecursionError: maximum recursion depth")
    table = runner.invoke(app, ["--db", database_url, "show", "bad/poison"])
    assert table.exit_code == 0 and "RecursionError" in table.stdout


def test_scores_beyond_a_float_are_null() -> None:
    from kinhub.db.records import EvaluationRecord

    evaluations = [
        EvaluationRecord(task="t", dataset="d", metric=m, value=v)  # type: ignore[arg-type]
        for m, v in (("a", 10**400), ("b", float("inf")), ("c", 61))
    ]
    record, _ = clean_record(ModelRecord(repo_id="x/y", evaluations=evaluations))
    assert [e.value for e in record.evaluations] == [None, None, 61.0]
