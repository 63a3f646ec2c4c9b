"""The migrations produce exactly the schema the models declare, on both backends, and
carry a populated database over from revision 0001 without losing anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from kinhub.db import migrations
from kinhub.db.engine import (
    Database,
    create_db_engine,
    current_revision,
    head_revision,
    open_database,
)
from kinhub.db.jobs.keys import job_key
from kinhub.db.models import Edge, Evaluation, Kinship, KinshipJob, Model, ModelText, Recipe
from sqlalchemy import Engine, func, or_, select, text
from sqlmodel import SQLModel, col

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_migrated_schema_matches_models(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_sqlite_uses_wal(tmp_path: object) -> None:
    db = open_database(f"sqlite:///{tmp_path}/x.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


# --- a populated 0001 database, upgraded -----------------------------------------------


def _migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _insert(engine: Engine, table: str, **values: Any) -> int:
    """One row in the 0001 shape, by raw SQL (JSON given as text, as a 0001 client wrote)."""
    values = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in values.items()}
    cols = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(f"INSERT INTO {table} ({cols}) VALUES ({params}) RETURNING id"), values
            ).scalar_one()
        )


def _model(engine: Engine, repo_id: str, status: str = "ok") -> int:
    return _insert(
        engine,
        "model",
        repo_id=repo_id,
        sha="f" * 40 if status == "ok" else None,
        status=status,
        tags=["merge"],
        architectures=["LlamaForCausalLM"],
        downloads=7,
        private=False,
        first_seen=T0,
        updated_at=T0,
    )


_KINSHIP_COMMON = {
    "revision_a": None,
    "revision_b": None,
    "revision_base": None,
    "convention": "native",
    "breakdown": {},
    "dropped": {"missing": []},
    "computed_at": T0,
}


def _populate(engine: Engine) -> dict[str, int]:
    ids = {r: _model(engine, r) for r in ("org/base", "org/a", "org/b", "me/merge")}
    ids["./local/x"] = _model(engine, "./local/x", status="unresolved")
    for parent, role in (("org/base", "base"), ("org/a", "ingredient"), ("org/b", "ingredient")):
        _insert(
            engine,
            "edge",
            child_id=ids["me/merge"],
            parent_id=ids[parent],
            relation="merge",
            role=role,
            source="mergekit_config",
            parameters={"weight": 0.5},
        )
    _insert(
        engine,
        "recipe",
        model_id=ids["me/merge"],
        source="mergekit_config",
        merge_method="ties",
        base_model="org/base",
        stages=[],
        raw_text="merge_method: ties",
        warnings=["w"],
    )
    _insert(
        engine,
        "evaluation",
        model_id=ids["me/merge"],
        task="text-generation",
        dataset="ARC",
        metric="acc",
        value=61.5,
    )
    hub = _insert(
        engine,
        "kinship",
        pair_key="1" * 64,
        model_a="org/a",
        model_b="org/b@v1",
        base="org/base",
        mode="exact",
        sample_fraction=None,
        metrics={"cs": 0.5, "pcc": -0.25, "ed": 12.0, "sign": None, "layer_cs": {"0": 0.1}},
        intervals={},
        params_compared=1000,
        bytes_read=4000,
        seconds=3.5,
        **_KINSHIP_COMMON,
    )
    local = _insert(
        engine,
        "kinship",
        pair_key="2" * 64,
        model_a="/data/x/a",
        model_b="/data/x/b",
        base="org/unseen",  # a Hub base no crawl has met yet: becomes a pending model
        mode="sampled",
        sample_fraction=0.25,
        metrics={"ratio": 1.5, "new_metric": 3},
        intervals={"cs": {"low": 0.1, "high": 0.2}},
        params_compared=10,
        bytes_read=40,
        seconds=0.5,
        **_KINSHIP_COMMON,
    )
    swapped = _insert(
        engine,
        "kinship_job",
        model_a="org/b",
        model_b="org/a",
        base="org/base",
        child="me/merge",
        status="done",
        lease_owner="w1",
        lease_until=T0,
        attempts=2,
        last_error="once",
        created_at=T0,
        updated_at=T0,
    )
    plain = _insert(
        engine,
        "kinship_job",
        model_a="org/a",
        model_b="org/c",
        base="org/base",
        status="pending",
        attempts=0,
        created_at=T0,
        updated_at=T0,
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO crawl_state (key, cursor, data, updated_at) "
                "VALUES ('listing', 'abc', '{\"n\": 1}', :t)"
            ),
            {"t": T0},
        )
    return {**ids, "k_hub": hub, "k_local": local, "j_swapped": swapped, "j_plain": plain}


def test_upgrade_populated_0001_loses_nothing(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        _migrate(engine, "0001")
        ids = _populate(engine)
    finally:
        engine.dispose()

    db = open_database(database_url)  # migrates to head, as every command does
    try:
        assert current_revision(db.engine) == head_revision()
        with db.session() as s:
            models = {m.repo_id: m for m in s.exec(select(Model)).scalars()}
            assert set(models) == {"org/base", "org/a", "org/b", "me/merge", "./local/x"} | {
                "org/unseen"
            }
            assert models["org/unseen"].status == "pending"
            assert models["org/a"].downloads == 7 and models["org/a"].tags == ["merge"]
            assert s.scalar(select(func.count()).select_from(Edge)) == 3
            assert s.scalar(select(func.count()).select_from(Evaluation)) == 1
            (recipe,) = s.exec(select(Recipe)).scalars()
            assert recipe.parser_version == 0 and recipe.warnings == ["w"]
            assert recipe.raw_text == "merge_method: ties"
            assert s.scalar(select(func.count()).select_from(ModelText)) == 0

            hub = s.get(Kinship, ids["k_hub"])
            assert hub is not None
            assert (hub.cs, hub.pcc, hub.ed, hub.sign, hub.ratio) == (0.5, -0.25, 12.0, None, None)
            assert hub.extra == {"sign": None, "layer_cs": {"0": 0.1}}
            assert (hub.model_a_id, hub.model_b_id, hub.base_id) == (
                ids["org/a"],
                ids["org/b"],
                ids["org/base"],
            )
            assert hub.model_b == "org/b@v1" and hub.pair_key == "1" * 64
            assert (hub.params_compared, hub.bytes_read, hub.seconds) == (1000, 4000, 3.5)
            assert hub.computed_at == T0 and hub.dropped == {"missing": []}

            local = s.get(Kinship, ids["k_local"])
            assert local is not None
            assert local.model_a_id is None and local.model_b_id is None
            assert local.base_id == models["org/unseen"].id
            assert local.ratio == 1.5 and local.cs is None and local.extra == {"new_metric": 3}
            assert local.mode == "sampled" and local.sample_fraction == 0.25
            assert local.intervals == {"cs": {"low": 0.1, "high": 0.2}}

            swapped = s.get(KinshipJob, ids["j_swapped"])
            assert swapped is not None
            assert (swapped.model_a, swapped.model_b, swapped.kind) == ("org/a", "org/b", "pair")
            assert swapped.job_key == job_key(
                kind="pair", model_a="org/a", model_b="org/b", base="org/base"
            )
            assert (swapped.status, swapped.attempts, swapped.lease_owner) == ("done", 2, "w1")
            assert (swapped.child, swapped.last_error, swapped.priority) == ("me/merge", "once", 0)
            plain = s.get(KinshipJob, ids["j_plain"])
            assert plain is not None and plain.status == "pending" and plain.created_at == T0
            state = s.execute(text("SELECT cursor, data FROM crawl_state")).one()
            assert state.cursor == "abc"
    finally:
        db.dispose()


def test_downgrade_to_0001_folds_columns_back_and_upgrades_again(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        _migrate(engine, "0001")
        ids = _populate(engine)
        _migrate(engine, "head")
        _migrate(engine, "0001", down=True)
        assert current_revision(engine) == "0001"
        with engine.connect() as conn:
            metrics = dict(conn.execute(text("SELECT id, metrics FROM kinship")).all())
            jobs = conn.execute(text("SELECT model_a, model_b, status FROM kinship_job")).all()
        decoded = {k: json.loads(v) if isinstance(v, str) else v for k, v in metrics.items()}
        assert decoded[ids["k_hub"]] == {
            "cs": 0.5,
            "pcc": -0.25,
            "ed": 12.0,
            "sign": None,
            "layer_cs": {"0": 0.1},
        }
        assert decoded[ids["k_local"]] == {"ratio": 1.5, "new_metric": 3}
        assert sorted(jobs) == [("org/a", "org/b", "done"), ("org/a", "org/c", "pending")]
        _migrate(engine, "head")
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
            pcc = conn.execute(text("SELECT pcc FROM kinship WHERE id = :i"), {"i": ids["k_hub"]})
            assert pcc.scalar_one() == -0.25
    finally:
        engine.dispose()


# --- "lowest pcc first" is one plain query ---------------------------------------------


def _kinship(model_a_id: int | None, model_b_id: int | None, pcc: float | None, n: int) -> Kinship:
    return Kinship(
        pair_key=f"{n:064x}",
        model_a=f"a{n}",
        model_b=f"b{n}",
        base="org/base",
        model_a_id=model_a_id,
        model_b_id=model_b_id,
        pcc=pcc,
    )


def test_lowest_pcc_for_a_model_is_one_plain_query(database: Database) -> None:
    with database.session() as s:
        x, y, z = (Model(repo_id=r) for r in ("org/x", "org/y", "org/z"))
        s.add_all([x, y, z])
        s.flush()
        assert x.id and y.id and z.id
        rows = []
        for n in range(60):
            pcc = ((n * 37) % 61) / 61 - 0.5
            other = y.id if n % 3 else z.id
            # X appears on either side; a third of the rows do not involve X at all.
            pair = (x.id, other) if n % 2 else (other, x.id)
            rows.append(_kinship(*(pair if n % 5 else (y.id, z.id)), pcc, n))
        rows.append(_kinship(x.id, y.id, None, 99))  # pcc not computed: sorts last, not first
        s.add_all(rows)

    query = (
        select(Kinship)
        .where(or_(col(Kinship.model_a_id) == x.id, col(Kinship.model_b_id) == x.id))
        .where(col(Kinship.pcc).is_not(None))
        .order_by(col(Kinship.pcc))
        .limit(20)
    )
    with database.session() as s:
        got = [k.pcc for k in s.execute(query).scalars()]
    want = sorted(
        r.pcc for r in rows if x.id in (r.model_a_id, r.model_b_id) and r.pcc is not None
    )[:20]
    assert got == want and len(got) == 20

    # Both backends find X's rows through the (model_a_id, …) and (model_b_id, …) indexes
    # (which of the metric indexes sharing that prefix the planner picks is its choice).
    compiled = str(query.compile(database.engine, compile_kwargs={"literal_binds": True}))
    with database.engine.connect() as conn:
        if database.dialect == "sqlite":
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a 60-row table is cheaper to scan
            plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_kinship_a_" in plan and "ix_kinship_b_" in plan, plan
    assert "SCAN kinship" not in plan and "Seq Scan" not in plan, plan


def test_migration_0002_keys_pairs_as_job_key_does() -> None:
    """0002 carries a frozen copy of the pair-job key; it must match the live rule for
    the rows it keyed (pair jobs without revisions), or upgraded queues would requeue."""
    import importlib.util

    path = Path(migrations.__file__).parent / "versions" / "0002_kinship_columns.py"
    spec = importlib.util.spec_from_file_location("kinhub_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for a, b, base in [("org/a", "org/b", "org/base"), ("z/y", "a/b", "c/d")]:
        first, second = sorted((a, b))
        frozen = module._pair_key_0002(first, second, base)
        assert frozen == job_key(kind="pair", model_a=a, model_b=b, base=base)
