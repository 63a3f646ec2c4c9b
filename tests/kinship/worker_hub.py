"""Hub snapshots and job lists for the worker tests: tiny real models served by the
emulator, plus repos that must fail (corrupt, gated, missing, pickle-only, another
architecture)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kinhub.db.engine import Database
from kinhub.db.jobs.keys import JobTarget, enqueue
from kinhub.sandbox.tensors import Arch, base_state, finetune
from kinhub.sandbox.weights import save_model

TINY = Arch(vocab=64, hidden=16, layers=1, intermediate=32)
ORG = "kin"


def write_family(root: Path, *, n: int, seed: int = 0, arch: Arch = TINY) -> list[str]:
    """``kin/base`` and ``n`` fine-tunes ``kin/ft00``…, as Hub repos under ``root``;
    returns the fine-tunes' ids."""
    base = base_state(arch, seed=seed)
    cfg = arch.config(dtype="float32")
    save_model(base, root / ORG / "base", config=cfg, dtype="fp32")
    ids = []
    for i in range(n):
        state = finetune(base, seed=seed + 1 + i, shared_seed=seed + 100, rho=0.5)
        save_model(state, root / ORG / f"ft{i:02d}", config=cfg, dtype="fp32")
        ids.append(f"{ORG}/ft{i:02d}")
    return ids


def write_bad_repos(root: Path) -> dict[str, str]:
    """Repos that cannot be measured, by what is wrong with them -> repo id."""
    ft = root / ORG / "ft00"
    corrupt = root / ORG / "corrupt"
    corrupt.mkdir(parents=True)
    shutil.copy(ft / "config.json", corrupt / "config.json")
    (corrupt / "model.safetensors").write_bytes(b"\xff" * 8 + b"not a safetensors header" * 4)
    gated = root / ORG / "gated"
    shutil.copytree(ft, gated)
    (gated / ".hub.json").write_text(json.dumps({"gated": "manual"}))
    pickle = root / ORG / "pickled"
    pickle.mkdir()
    shutil.copy(ft / "config.json", pickle / "config.json")
    (pickle / "pytorch_model.bin").write_bytes(b"PK\x03\x04 a zip-pickle stand-in")
    other = root / ORG / "mistral"
    shutil.copytree(ft, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg.update(model_type="mistral", architectures=["MistralForCausalLM"])
    (other / "config.json").write_text(json.dumps(cfg))
    return {
        "corrupt": f"{ORG}/corrupt",
        "gated": f"{ORG}/gated",
        "missing": f"{ORG}/does-not-exist",
        "pickle": f"{ORG}/pickled",
        "architecture": f"{ORG}/mistral",
    }


def pair_targets(models: list[str], *, limit: int | None = None) -> list[JobTarget]:
    """Pair jobs (every two models against ``kin/base``), then edge jobs, up to ``limit``."""
    out = [
        JobTarget(kind="pair", model_a=a, model_b=b, base=f"{ORG}/base")
        for a, b in itertools.combinations(models, 2)
    ]
    out += [
        JobTarget(kind="edge", model_a=a, model_b=b, base=f"{ORG}/base", child=a)
        for a, b in itertools.combinations(models, 2)
    ]
    return out[:limit] if limit is not None else out


def queue(database: Database, targets: list[JobTarget]) -> None:
    with database.write_transaction() as session:
        enqueue(session, targets)


def worker_process(
    *args: str, db_url: str, endpoint: str, hf_home: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``kinhub worker …`` in its own process (the real command), with the PRO plan's
    Hub quotas (tiny models make a job cost little more than its Hub calls)."""
    full_env = {
        **os.environ,
        "KINHUB_DB": db_url,
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        **(env or {}),
    }
    full_env.pop("HF_HUB_CACHE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "kinhub.cli", "worker", "--format", "json", "--plan", "pro", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
