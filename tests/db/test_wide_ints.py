"""Counts beyond 32 bits (a 70B model, the bytes read comparing two of them) store
on both backends through the store functions, and migration 0007 widens a
populated database without losing a row."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from kinhub.db import migrations
from kinhub.db.engine import Database, create_db_engine, open_database
from kinhub.db.jobs.plan import enqueue_for_models
from kinhub.db.kinship_store import find_kinship, kinship_key, save_kinship
from kinhub.db.models import Edge, KinshipJob, Model, ModelText
from kinhub.db.records import EdgeRecord, ModelRecord, RecipeRecord, SourceTexts
from kinhub.db.signatures import Signature, find_signature, save_signature
from kinhub.db.store import get_model, upsert_model
from sqlalchemy import Engine, text
from sqlmodel import col, select

PARAMS_70B = 70_553_706_496
PARAMS_7B = 7_241_732_096
BYTES_READ = 150_000_000_000  # 1.5e11: three 70B models in bf16, not quite whole
DOWNLOADS = 3_000_000_000
SEED = 2**40
SHA = "a" * 40


def _model(repo_id: str, **values: object) -> ModelRecord:
    return ModelRecord(repo_id=repo_id, sha=SHA, num_parameters=PARAMS_70B, **values)  # type: ignore[arg-type]


def _merge(repo_id: str) -> ModelRecord:
    edges = [
        EdgeRecord(parent="org/base-70b", relation="merge", role="base", source="mergekit_config"),
        *(
            EdgeRecord(parent=p, relation="merge", role="ingredient", source="mergekit_config")
            for p in ("org/a-70b", "org/b-70b")
        ),
    ]
    recipe = RecipeRecord(source="mergekit_config", merge_method="ties", base_model="org/base-70b")
    return _model(repo_id, downloads=DOWNLOADS, edges=edges, recipes=[recipe])


def test_70b_counts_store_and_read_back(database: Database) -> None:
    with database.session() as s:
        for repo_id in ("org/base-70b", "org/a-70b", "org/b-70b"):
            upsert_model(s, _model(repo_id, downloads=DOWNLOADS + 1))
        upsert_model(s, _merge("me/merge-70b"))
        # The merge's kinship jobs are queued at its downloads (the busiest child's).
        assert enqueue_for_models(s, ["me/merge-70b"]).inserted > 0
        key = kinship_key(
            a="org/a-70b",
            b="org/b-70b",
            base="org/base-70b",
            fingerprints={"a": SHA, "b": SHA, "base": SHA},
            mode="sampled",
            convention="native",
            sample_fraction=0.5,
            seed=SEED,
        )
        save_kinship(
            s,
            key=key,
            a="org/a-70b",
            b="org/b-70b",
            base="org/base-70b",
            revisions={"a": SHA, "b": SHA, "base": SHA},
            mode="sampled",
            convention="native",
            metrics={"cs": 0.25, "pcc": 0.5},
            params_compared=PARAMS_70B,
            bytes_read=BYTES_READ,
            seconds=1234.5,
            sample_fraction=0.5,
            seed=SEED,
        )
        base = get_model(s, "org/base-70b")
        assert base is not None and base.id is not None
        signature = Signature(
            signature="s" * 64,
            exact="e" * 64,
            model_type="llama",
            num_layers=80,
            hidden_size=8192,
            vocab_size=128_256,
            dtype="bfloat16",
            num_tensors=723,
            num_parameters=PARAMS_70B,
        )
        save_signature(s, model_id=base.id, revision=SHA, signature=signature)

    with database.session() as s:
        merge = get_model(s, "me/merge-70b")
        assert merge is not None
        assert (merge.num_parameters, merge.downloads) == (PARAMS_70B, DOWNLOADS)
        priorities = set(s.exec(select(KinshipJob.priority)))
        assert priorities == {DOWNLOADS}
        row = find_kinship(s, key=key)
        assert row is not None
        assert (row.params_compared, row.bytes_read, row.seed) == (PARAMS_70B, BYTES_READ, SEED)
        stored = find_signature(s, model_id=base.id, revision=SHA)
        assert stored is not None and stored.num_parameters == PARAMS_70B
        # Writing the same record again is still a no-op (the value compares equal).
        assert upsert_model(s, _merge("me/merge-70b")).value == "unchanged"


# --- migration 0007 on a populated 0006 database ---------------------------------------

_WIDE = {
    ("model", "num_parameters"),
    ("model", "downloads"),
    ("kinship", "seed"),
    ("kinship", "params_compared"),
    ("kinship", "bytes_read"),
    ("kinship_job", "priority"),
    ("arch_signature", "num_parameters"),
}


def _migrate(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _populate_0006(engine: Engine) -> None:
    """Two models, an edge and stored texts, by raw SQL in the 0006 shape."""
    with engine.begin() as conn:
        for n, repo_id in enumerate(("org/base", "me/ft"), start=1):
            conn.execute(
                text(
                    "INSERT INTO model (id, repo_id, sha, status, tags, architectures, "
                    "num_parameters, downloads, private, first_seen, updated_at) VALUES "
                    "(:id, :r, :sha, 'ok', '[]', '[]', 1000, 2147483647, false, :t, :t)"
                ),
                {"id": n, "r": repo_id, "sha": SHA, "t": "2026-11-01 12:00:00"},
            )
        conn.execute(
            text(
                "INSERT INTO edge (child_id, parent_id, relation, role, source, parameters) "
                "VALUES (2, 1, 'finetune', 'parent', 'card_metadata', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO model_text (model_id, sha, card_text, parser_version, updated_at) "
                "VALUES (2, :sha, 'card', 3, :t)"
            ),
            {"sha": SHA, "t": "2026-11-01 12:00:00"},
        )


def test_migration_0007_widens_and_keeps_every_row(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        _migrate(engine, "0006_hub_object")
        _populate_0006(engine)
    finally:
        engine.dispose()

    db = open_database(database_url)  # migrates to head, as every command does
    try:
        with db.session() as s:
            models = {m.repo_id: m for m in s.exec(select(Model))}
            assert {r: m.num_parameters for r, m in models.items()} == {
                "org/base": 1000,
                "me/ft": 1000,
            }
            assert models["me/ft"].downloads == 2_147_483_647
            (edge,) = s.exec(select(Edge))
            assert (edge.child_id, edge.parent_id) == (models["me/ft"].id, models["org/base"].id)
            (texts,) = s.exec(select(ModelText))
            assert (texts.card_text, texts.parser_version, texts.files) == ("card", 3, None)
        if db.dialect == "postgresql":
            with db.engine.connect() as conn:
                types = {
                    (t, c): kind
                    for t, c, kind in conn.execute(
                        text(
                            "SELECT table_name, column_name, data_type "
                            "FROM information_schema.columns WHERE table_schema = 'public'"
                        )
                    )
                }
            assert {types[key] for key in _WIDE} == {"bigint"}
        with db.session() as s:
            record = ModelRecord(
                repo_id="me/ft",
                sha="b" * 40,
                num_parameters=PARAMS_7B,
                texts=SourceTexts(card_text="card"),
            )
            upsert_model(s, record)
        with db.session() as s:
            stored = s.exec(select(Model.num_parameters).where(col(Model.repo_id) == "me/ft"))
            assert stored.one() == PARAMS_7B
    finally:
        db.dispose()
