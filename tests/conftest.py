"""Shared fixtures: real databases on both backends, a clean Hub environment, the Hub
emulator fixture family, and generated hubs and model families.

The emulator family: :class:`HubEmulators` starts :class:`HubEmulator` s over real
HTTP — over a snapshot folder or over contents given inline, with latency, faults,
quotas and bandwidth as parameters — sets ``HF_ENDPOINT`` when asked, and stops
them all when its scope ends.  ``hub_emulator`` is one per test,
``module_hub_emulator`` one per module (for module-scoped fixtures).  The
generated hubs and families (``synthetic_hub``, ``merge_family``, ``families``) are
session-scoped and shared: tests read them and never write into them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from kinhub.db.engine import Database, open_database
from kinhub.sandbox.emulator import HubEmulator, ScriptedFault
from kinhub.sandbox.emulator.listing import DEFAULT_MAX_PAGE, HEAVY_PAGE_LIMIT
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
    # Tests sample tiny models to exercise the sampler; the exact fallback is tested on its own.
    monkeypatch.setenv("KINHUB_SAMPLE_FALLBACK", "0")


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


# ---------------------------------------------------------------- the Hub emulator

# Repo id → file name → text or bytes; ``.hub.json`` may be given as a dict of Hub fields.
HubContents = Mapping[str, Mapping[str, str | bytes | Mapping[str, Any]]]


def write_hub(root: Path, contents: HubContents) -> Path:
    """Write ``contents`` as a snapshot folder the emulator serves; returns ``root``."""
    for repo_id, files in contents.items():
        for name, content in files.items():
            path = root / repo_id / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_text(json.dumps(dict(content)), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    return root


class HubEmulators:
    """Starts Hub emulators over real HTTP and stops them all at :meth:`close`.

    Call it with a snapshot folder (``root/<org>/<name>/``) or with
    :data:`HubContents` (written to a fresh temporary folder), and the emulator's
    knobs; the emulator comes back started.  ``set_endpoint`` points
    ``HF_ENDPOINT`` at it until :meth:`close`.  Using the result as a context
    manager (``with hub_emulator(root) as emu:``) stops it at the end of the block.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._running: list[HubEmulator] = []
        self._env = pytest.MonkeyPatch()

    def __call__(
        self,
        hub: Path | HubContents,
        *,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        seed: int = 0,
        rate_limit: int | None = None,
        rate_window_s: float = 300.0,
        rate_quotas: dict[str, int] | None = None,
        bandwidth_bps: float | None = None,
        page_size: int = DEFAULT_MAX_PAGE,
        heavy_page_limit: int | None = HEAVY_PAGE_LIMIT,
        script: list[ScriptedFault] | None = None,
        set_endpoint: bool = False,
    ) -> HubEmulator:
        """A started emulator over ``hub``; the keywords are :class:`HubEmulator`'s."""
        root = hub if isinstance(hub, Path) else write_hub(self._tmp.mktemp("hub"), hub)
        emulator = HubEmulator(
            root,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            seed=seed,
            rate_limit=rate_limit,
            rate_window_s=rate_window_s,
            rate_quotas=rate_quotas,
            bandwidth_bps=bandwidth_bps,
            page_size=page_size,
            heavy_page_limit=heavy_page_limit,
            script=script,
        )
        self._running.append(emulator.start())
        if set_endpoint:
            self._env.setenv("HF_ENDPOINT", emulator.url)
        return emulator

    def close(self) -> None:
        """Stop every emulator started here and restore ``HF_ENDPOINT``."""
        while self._running:
            self._running.pop().close()
        self._env.undo()


@pytest.fixture
def hub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubEmulators]:
    """Start emulators for this test: ``hub_emulator(root_or_contents, latency_ms=…,
    fail_rate=…, rate_limit=…, set_endpoint=True, …)``; all stop at teardown."""
    emulators = HubEmulators(tmp_path_factory)
    try:
        yield emulators
    finally:
        emulators.close()


@pytest.fixture(scope="module")
def module_hub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubEmulators]:
    """:func:`hub_emulator` for module-scoped fixtures: all stop when the module ends."""
    emulators = HubEmulators(tmp_path_factory)
    try:
        yield emulators
    finally:
        emulators.close()


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
