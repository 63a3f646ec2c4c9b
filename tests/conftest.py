"""Shared fixtures: real databases on both backends, a clean Hub environment, and
generated hubs and model families (session-scoped and shared: tests read them and
never write into them)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from kinhub.db.engine import Database, open_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # the generator imports torch: only when a fixture asks for it
    from kinhub.sandbox.families import Family, MergeFamily
    from kinhub.sandbox.hub import HubManifest

PG_ADMIN_URL = os.environ.get("KINHUB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _hub_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's HF cache or token, or phones home."""
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("KINHUB_DB", raising=False)
    monkeypatch.setenv("KINHUB_HOME", str(home / "kinhub"))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the local PostgreSQL; fails (not skips) when CI=true."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


def _fresh_postgres(admin_url: str) -> Iterator[str]:
    name = f"kinhub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kinhub.db'}"
        return
    admin = request.getfixturevalue("postgres_server")
    yield from _fresh_postgres(admin)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    try:
        yield db
    finally:
        db.dispose()


# ---------------------------------------------------------------- generated hubs and weights


@pytest.fixture(scope="session")
def synthetic_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., HubManifest]:
    """``synthetic_hub(n_models=…, seed=…, weights=False)``: a generated hub
    (:func:`kinhub.sandbox.hub.generate_hub`), made once per session for each set of
    arguments.  Shared: read it, never write into it."""
    from kinhub.sandbox.hub import generate_hub

    made: dict[tuple[int, int, bool], HubManifest] = {}

    def get(*, n_models: int, seed: int = 0, weights: bool = False) -> HubManifest:
        key = (n_models, seed, weights)
        if key not in made:
            root = tmp_path_factory.mktemp(f"hub-{n_models}-{seed}-{'w' if weights else 'nw'}")
            made[key] = generate_hub(root, n_models=n_models, seed=seed, weights=weights)
        return made[key]

    return get


@pytest.fixture(scope="session")
def merge_family(tmp_path_factory: pytest.TempPathFactory) -> MergeFamily:
    """The fixed three-generation merge family with weights
    (:func:`kinhub.sandbox.families.generate_merge_family`).  Shared: read only."""
    from kinhub.sandbox.families import generate_merge_family

    return generate_merge_family(tmp_path_factory.mktemp("merge-family"), weights=True)


FAMILY_KINDS: dict[str, dict[str, Any]] = {
    "fp32-single": {"dtype": "fp32", "shards": 1},
    "bf16-sharded": {"dtype": "bf16", "shards": 3},
    "bf16-tied": {"dtype": "bf16", "shards": 1, "tied": True},
    "fp32-resized-sharded": {"dtype": "fp32", "shards": 2, "resized": 24},
}


@pytest.fixture(scope="session")
def families(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Family]:
    """Model families with real merges (:func:`kinhub.sandbox.families.make_family`), one
    per :data:`FAMILY_KINDS` entry.  Shared: read only."""
    from kinhub.sandbox.families import make_family

    root = tmp_path_factory.mktemp("families")
    return {
        kind: make_family(root / kind, seed=i * 10, **kw)
        for i, (kind, kw) in enumerate(FAMILY_KINDS.items())
    }


def load_f64(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a model folder, fully loaded and converted to float64 (test oracle)."""
    from safetensors.torch import load_file

    index = path / "model.safetensors.index.json"
    files = (
        sorted(set(json.loads(index.read_text())["weight_map"].values()))
        if index.exists()
        else ["model.safetensors"]
    )
    out: dict[str, np.ndarray] = {}
    for f in files:
        for k, t in load_file(str(path / f)).items():
            out[k] = t.double().numpy()
    return out
