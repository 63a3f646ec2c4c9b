"""The repo's file list reaches the parser on every path: the crawl (the listing's
``siblings``), ingest (the folder's names) and ``kinhub db reparse`` (the stored
list).  ``adapter_config.json`` makes an adapter; full weights make a fine-tune,
whatever tags the card has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kinhub.cli.app import app
from kinhub.crawler.ingest import folder_files, read_local_model
from kinhub.db.engine import Database
from kinhub.db.models import Edge, Model, ModelText
from kinhub.db.store import upsert_model
from kinhub.sandbox.hub import FOUNDATIONS, generate_hub
from safetensors.numpy import save_file
from sqlalchemy import text
from sqlmodel import SQLModel, col, select
from typer.testing import CliRunner

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

BASE = FOUNDATIONS[0]
# A card in the shape both kinds share: a base model, no adapter wording, no peft tags.
PLAIN_CARD = f"---\nbase_model: {BASE}\nlicense: mit\n---\n\n# {{name}}\n\nTrained on our data.\n"
# Full weights whose card is tagged ``lora`` (a LoRA merged into the model): a fine-tune.
LORA_TAGGED_CARD = f"---\nbase_model: {BASE}\ntags:\n- lora\n---\n\n# {{name}}\n\nTrained.\n"
ADAPTER = "peft-org/plain-adapter"
FULL = "ft-org/plain-full"
MERGED_LORA = "ft-org/merged-lora-full"
WANT = {ADAPTER: "adapter", FULL: "finetune", MERGED_LORA: "finetune"}


def _weights(path: Path, name: str) -> None:
    save_file({name: np.ones((4, 4), dtype=np.float32)}, str(path))


def _write(folder: Path, files: dict[str, str], weights: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    for name, tensor in weights.items():
        _weights(folder / name, tensor)


def _adapter_repo(folder: Path) -> None:
    config = {"base_model_name_or_path": BASE, "peft_type": "LORA", "r": 4}
    _write(
        folder,
        {
            "README.md": PLAIN_CARD.format(name=folder.name),
            "adapter_config.json": json.dumps(config),
        },
        {"adapter_model.safetensors": "base_model.model.q_proj.lora_A.weight"},
    )


def _full_repo(folder: Path, card: str) -> None:
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    _write(
        folder,
        {"README.md": card.format(name=folder.name), "config.json": json.dumps(config)},
        {"model.safetensors": "model.embed_tokens.weight"},
    )


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated hub plus an adapter, a full fine-tune and a full fine-tune
    tagged ``lora``, each with a card that names only its base model."""
    root = tmp_path_factory.mktemp("hub")
    generate_hub(root, n_models=12, seed=5, weights=False)
    hub = json.dumps({"lastModified": "2026-01-01T00:00:00.000Z", "downloads": 3})
    _adapter_repo(root / ADAPTER)
    _full_repo(root / FULL, PLAIN_CARD)
    _full_repo(root / MERGED_LORA, LORA_TAGGED_CARD)
    for repo_id in WANT:
        (root / repo_id / ".hub.json").write_text(hub)
    return root


def _relations(database: Database, child: str) -> dict[str, set[str]]:
    """source → relations of ``child``'s edges."""
    with database.session() as session:
        rows = session.exec(
            select(Edge.source, Edge.relation)
            .join(Model, col(Model.id) == col(Edge.child_id))
            .where(col(Model.repo_id) == child)
        )
        out: dict[str, set[str]] = {}
        for source, relation in rows:
            out.setdefault(source, set()).add(relation)
    return out


def _stored_files(database: Database, repo_id: str) -> list[str] | None:
    with database.session() as session:
        return session.exec(
            select(ModelText.files)
            .join(Model, col(Model.id) == col(ModelText.model_id))
            .where(col(Model.repo_id) == repo_id)
        ).one()


def _dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, write times included."""
    with database.engine.connect() as conn:
        return {
            table.name: [
                tuple(r) for r in conn.execute(text(f"SELECT * FROM {table.name} ORDER BY 1"))
            ]
            for table in SQLModel.metadata.sorted_tables
        }


def _reparse_all(database: Database) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["--db", database.url, "db", "reparse", "--all", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_crawl_reads_adapter_and_full_weights_and_reparse_agrees(
    database: Database, hub_root: Path, tmp_path: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(hub_root, latency_ms=0) as emu:
        report = run_crawl(database, emu.url, tmp_path / "cache", scope="full")
    assert report.complete and report.status == "ok"

    for repo_id, relation in WANT.items():
        relations = _relations(database, repo_id)
        # The card's base_model and the Hub's base_model:<relation> tag agree.
        assert relations == {"card_metadata": {relation}, "hub_tag": {relation}}, repo_id
    files = _stored_files(database, ADAPTER)
    assert files is not None
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(files)
    assert "model.safetensors" in (_stored_files(database, FULL) or [])

    before = _dump(database)
    report_json = _reparse_all(database)
    assert report_json["examined"] > len(WANT)
    assert (report_json["changed"], report_json["skipped"]) == (0, 0)
    assert _dump(database) == before


def test_ingest_reads_the_folder_files(database: Database, tmp_path: Path) -> None:
    adapter = tmp_path / "local-adapter"
    _adapter_repo(adapter)
    local = read_local_model(adapter, repo_id="me/local-adapter")
    assert {e.relation for e in local.record.edges} == {"adapter"}
    assert local.record.texts is not None
    assert local.record.texts.files == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
    ]

    full = tmp_path / "local-full"
    _full_repo(full, LORA_TAGGED_CARD)
    with database.session() as session:
        upsert_model(session, local.record)
        upsert_model(session, read_local_model(full, repo_id="me/local-full").record)
    assert _relations(database, "me/local-adapter") == {"card_metadata": {"adapter"}}
    assert _relations(database, "me/local-full") == {"card_metadata": {"finetune"}}
    assert _stored_files(database, "me/local-adapter") == local.record.texts.files

    before = _dump(database)
    report = _reparse_all(database)
    assert (report["examined"], report["changed"]) == (2, 0)
    assert _dump(database) == before


def test_folder_files_stay_inside_the_folder(tmp_path: Path) -> None:
    """Names are relative and never come from outside: a symlinked directory is not
    entered, hidden entries are skipped; a symlinked file counts by its own name."""
    outside = tmp_path / "outside"
    _adapter_repo(outside)
    folder = tmp_path / "model"
    _full_repo(folder, PLAIN_CARD)
    (folder / "sub").mkdir()
    _weights(folder / "sub" / "extra.safetensors", "x")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "adapter_config.json").write_text("{}")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    (folder / "notes.txt").symlink_to(outside / "README.md")
    (folder / "dangling.json").symlink_to(tmp_path / "nowhere")

    assert folder_files(folder) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "notes.txt",
        "sub/extra.safetensors",
    ]
    record = read_local_model(folder, repo_id="me/model").record
    assert {e.relation for e in record.edges} == {"finetune"}
