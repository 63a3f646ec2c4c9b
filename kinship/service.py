"""Measure kinship once: answer from the database when stored, else compute and store.

``measure_kinship`` is the one service behind ``kinhub kinship`` and the kinship
worker: it checks the three references, keys the measurement by their content
(``kinhub.db.kinship_store.kinship_key``), answers from the stored row when it
holds every requested metric, and otherwise computes only what is missing and adds
it to the row.  ``plan_measurement`` is the ``--dry-run`` counterpart.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinhub.db.engine import Database
from kinhub.db.ids import split_revision
from kinhub.db.jobs.plan import is_common_ancestor
from kinhub.db.kinship_store import (
    find_kinship,
    in_key_order,
    kinship_key,
    save_kinship,
    stored_metrics,
)
from kinhub.db.models import Kinship
from kinhub.kinship import metrics as registry
from kinhub.kinship.errors import KinshipError, ModelSourceError
from kinhub.kinship.names import DEFAULT_DEVICE
from kinhub.kinship.result import FALLBACK_NOTE, KinshipResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

if TYPE_CHECKING:  # plan -> torch: loaded when a measurement is made, not at import
    from kinhub.kinship.plan import Plan

logger = logging.getLogger(__name__)

DEFAULT_METRICS = registry.DEFAULT_METRICS
CONVENTION = "native"

# Called with the session and the row inside the transaction that stored (or read) it:
# the worker marks its job done there, so the result and the job commit together.
RowHook = Callable[[Session, Kinship], None]

# Metrics whose value changes when A and B swap, with the value for (B, A) from the value
# for (A, B) (``ratio`` = ‖δ_A‖/‖δ_B‖).  Every other metric is symmetric.
_REVERSED: dict[str, Callable[[float], float]] = {
    "ratio": lambda v: 1.0 / v if v else math.nan,
}

# What a Hub id looks like before any ``@revision``: at most one "/", no backslash.
_HUB_SHAPE = re.compile(r"^[^/\\]+(/[^/\\]+)?$")


class SampleFractionError(KinshipError, ValueError):
    """``sample`` is not a fraction in (0, 1]."""

    def __init__(self, value: float) -> None:
        self.value = value
        super().__init__(f"sample fraction must be in (0, 1], got {value}")


def looks_local(ref: str) -> bool:
    """True when ``ref`` is written as a file-system path rather than ``org/name[@rev]``.

    ``./x``, ``../x``, ``/x``, ``~/x``, ``.``, and anything with a backslash or more than
    one "/" before the ``@revision`` count as paths.
    """
    if ref in (".", "..", "~") or ref.startswith(("./", "../", "/", "~", ".\\", "..\\")):
        return True
    if os.altsep and os.altsep != "/" and os.altsep in ref:
        return True
    return not _HUB_SHAPE.match(ref.partition("@")[0])


def check_reference(ref: str) -> str:
    """The reference as the database stores it: a folder's absolute path, a Hub id as given.

    Raises:
        ModelSourceError: ``ref`` is written as a path but no such folder exists.
        InvalidRepoIdError: ``ref`` is neither a folder nor a valid ``org/name[@rev]``.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if looks_local(ref):
        reason = "is a file, not a model folder" if path.exists() else "folder does not exist"
        raise ModelSourceError(ref, reason)
    split_revision(ref)
    return ref


def check_sample(sample: float | None) -> None:
    """Raises: SampleFractionError when ``sample`` is given and not in (0, 1]."""
    if sample is not None and not (0.0 < sample <= 1.0):  # also rejects NaN
        raise SampleFractionError(sample)


@dataclass
class Measurement:
    """A kinship result as answered: computed now or read from the database.

    ``to_dict`` gives the JSON the CLI prints: the engine's keys (``a``, ``b``,
    ``base``, ``metrics``, ``intervals``, ``params_compared``, ``bytes_read``,
    ``seconds``, ``dropped``, ``mode``, ``convention``, ``revisions``, ``cached``, …)
    plus ``computed_at``, the ISO time of the computation the values come from, and
    ``warnings`` (e.g. a base that is not a common ancestor of A and B).
    A cached answer keeps that computation's ``seconds`` and reads no bytes.
    """

    result: KinshipResult
    computed_at: datetime
    kinship_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def cached(self) -> bool:
        return self.result.cached

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "computed_at": self.computed_at.isoformat(),
            "warnings": list(self.warnings),
        }


def base_warnings(database: Database, *, a: str, b: str, base: str) -> list[str]:
    """Why the stored genealogy doubts ``base`` for ``a`` and ``b``: a warning when it
    knows both models and ``base`` is not an ancestor of both; else nothing."""
    with database.session() as session:
        known = is_common_ancestor(session, a=a, b=b, base=base)
    if known is not False:
        return []
    return [
        f"{base} is not a common ancestor of {a} and {b} in the stored genealogy; "
        "measured against an unrelated base the numbers mean little"
    ]


def plan_measurement(
    *,
    a: str,
    b: str,
    base: str,
    allow_pickle: bool = False,
    endpoint: str | None = None,
) -> Plan:
    """The native plan of a measurement (``--dry-run``), after the same reference checks.

    Raises:
        ModelSourceError, InvalidRepoIdError, and what ``plan_kinship`` raises.
    """
    from kinhub.kinship.engine import plan_kinship

    na, nb, nz = (check_reference(r) for r in (a, b, base))
    return plan_kinship(na, nb, nz, allow_pickle=allow_pickle, endpoint=endpoint)


def measure_kinship(
    database: Database,
    *,
    a: str,
    b: str,
    base: str,
    metrics: Sequence[str] = DEFAULT_METRICS,
    per_tensor: bool = False,
    device: str = DEFAULT_DEVICE,
    sample: float | None = None,
    seed: int = 0,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
    on_row: RowHook | None = None,
) -> Measurement:
    """Kinship of ``a`` and ``b`` against ``base``, from ``database`` when stored.

    ``a``/``b``/``base`` are local folders or ``org/name[@rev]``.  The stored row answers
    when it holds every metric asked for (and the per-tensor breakdown if asked);
    otherwise only the missing metrics are computed (all of them with
    ``use_cache=False``) and added to the row, in a write transaction (SQLite: under the
    write lock).  ``on_row`` runs in the transaction that stored or read the row.
    ``cache_dir`` (Hub downloads) and ``progress`` (tensors done, total) apply to exact
    mode.

    Raises:
        SampleFractionError, UnknownMetricError, ModelSourceError, InvalidRepoIdError,
        DeviceUnavailableError, and whatever the engine or the database raises.
    """
    from kinhub.kinship.engine import compute_kinship, fingerprint
    from kinhub.kinship.execute import resolve_device

    check_sample(sample)
    names = [registry.get(n).name for n in dict.fromkeys(metrics)]
    resolve_device(device)
    na, nb, nz = (check_reference(r) for r in (a, b, base))
    warnings = base_warnings(database, a=na, b=nb, base=nz)
    mode = "sampled" if sample is not None else "exact"
    fps = {
        slot: fingerprint(ref, endpoint=endpoint)
        for slot, ref in (("a", na), ("b", nb), ("base", nz))
    }
    # One row per unordered pair: computed and stored in the key's order, answered as asked.
    swapped = not in_key_order(a=na, b=nb, fingerprints=fps)
    ka, kb = (nb, na) if swapped else (na, nb)
    key = kinship_key(
        a=ka,
        b=kb,
        base=nz,
        fingerprints={"a": fps["b"], "b": fps["a"], "base": fps["base"]} if swapped else fps,
        mode=mode,
        convention=CONVENTION,
        sample_fraction=sample,
        seed=seed,
    )
    missing = names
    if use_cache:
        # With a hook the transaction may write (the worker's job row): take the lock first.
        begin = database.write_transaction if on_row is not None else database.session
        with begin() as session:
            row = find_kinship(session, key=key)
            if row is not None:
                have = stored_metrics(row)
                missing = [n for n in names if n not in have]
                if not missing and (not per_tensor or row.breakdown):
                    if on_row is not None:
                        on_row(session, row)
                    found = _from_row(row, names, per_tensor=per_tensor, warnings=warnings)
                    _as_asked(found.result, refs=(na, nb, nz), swapped=swapped)
                    return found
                if per_tensor and not row.breakdown:
                    missing = names
    logger.info("computing %s of %s and %s against %s (%s)", missing, na, nb, nz, mode)
    result = compute_kinship(
        ka,
        kb,
        nz,
        metrics=missing,
        per_tensor=per_tensor,
        device=device,
        sample=sample,
        seed=seed,
        allow_pickle=allow_pickle,
        endpoint=endpoint,
        cache_dir=cache_dir,
        progress=progress,
    )
    result.a, result.b, result.base = ka, kb, nz
    for attempt in (1, 2):
        try:
            with database.write_transaction() as session:
                row = save_kinship(
                    session,
                    key=key,
                    a=ka,
                    b=kb,
                    base=nz,
                    revisions=result.revisions,
                    mode=result.mode,
                    convention=result.convention,
                    metrics=result.metrics,
                    params_compared=result.params_compared,
                    bytes_read=result.bytes_read,
                    seconds=result.seconds,
                    sample_fraction=sample,
                    seed=seed,
                    intervals=result.intervals,
                    breakdown=result.breakdown,
                    dropped=result.dropped,
                    warnings=warnings,
                )
                if on_row is not None:
                    on_row(session, row)
                have = stored_metrics(row)
                intervals = dict(row.intervals)
                computed_at, kinship_id = row.computed_at, row.id
            break
        except IntegrityError:
            # PostgreSQL: another process stored the same key (or a model row) first;
            # the second attempt finds its rows and adds to them.
            if attempt == 2:
                raise
            logger.info("%s: stored concurrently by another process; merging", key[:12])
    # Metrics stored earlier for the same inputs complete the answer, in asked order.
    result.metrics = {n: result.metrics.get(n, have.get(n, math.nan)) for n in names}
    result.intervals = {n: v for n, v in intervals.items() if n in names}
    _as_asked(result, refs=(na, nb, nz), swapped=swapped)
    return Measurement(
        result=result, computed_at=computed_at, kinship_id=kinship_id, warnings=warnings
    )


def _from_row(
    row: Kinship, names: list[str], *, per_tensor: bool, warnings: list[str]
) -> Measurement:
    have = stored_metrics(row)
    result = KinshipResult(
        a=row.model_a,
        b=row.model_b,
        base=row.base,
        metrics={n: have[n] for n in names},
        params_compared=row.params_compared,
        bytes_read=0,  # nothing was read to answer
        seconds=row.seconds,  # what the stored computation took
        dropped=row.dropped,
        mode=row.mode,
        convention=row.convention,
        revisions={"a": row.revision_a, "b": row.revision_b, "base": row.revision_base},
        intervals={n: v for n, v in row.intervals.items() if n in names},
        sample_fraction=row.sample_fraction,
        seed=row.seed,
        breakdown=row.breakdown if per_tensor else {},
        cached=True,
        note=FALLBACK_NOTE if row.mode == "exact" and row.sample_fraction is not None else None,
    )
    return Measurement(
        result=result, computed_at=row.computed_at, kinship_id=row.id, warnings=warnings
    )


def _as_asked(result: KinshipResult, *, refs: tuple[str, str, str], swapped: bool) -> None:
    """Turn a result in the stored (key) order into the order asked, naming the models
    as asked: when A and B were swapped, their revisions and what the plan dropped swap
    back, and the asymmetric metrics (``_REVERSED``) and their intervals are inverted."""
    result.a, result.b, result.base = refs
    if not swapped:
        return
    result.revisions = _swap_ab(result.revisions)
    result.dropped = {k: _swap_slots(v) for k, v in result.dropped.items()}
    for name, reverse in _REVERSED.items():
        if name in result.metrics and isinstance(result.metrics[name], int | float):
            result.metrics[name] = reverse(result.metrics[name])
        interval = result.intervals.get(name)
        if isinstance(interval, dict) and {"low", "high"} <= interval.keys():
            low, high = interval["low"], interval["high"]
            result.intervals[name] = {
                **interval,
                "low": reverse(high) if high is not None else None,
                "high": reverse(low) if low is not None else None,
            }


def _swap_ab(slots: dict[str, Any]) -> dict[str, Any]:
    """``slots`` with the values of keys ``a`` and ``b`` exchanged (others kept)."""
    out = dict(slots)
    if "a" in slots or "b" in slots:
        out.pop("a", None)
        out.pop("b", None)
        if "b" in slots:
            out["a"] = slots["b"]
        if "a" in slots:
            out["b"] = slots["a"]
    return out


_SLOTS = {"a", "b", "base"}


def _swap_slots(value: Any) -> Any:
    """A ``dropped`` entry with A and B exchanged: ``{"a": …, "b": …}`` by slot (``tied``),
    or per tensor a slot dict (``rows``, ``shape_mismatch``) or a slot list (``missing``)."""
    if not isinstance(value, dict):
        return value
    if value and value.keys() <= _SLOTS:
        return _swap_ab(value)
    flip = {"a": "b", "b": "a"}
    return {
        k: _swap_ab(v)
        if isinstance(v, dict)
        else [flip.get(x, x) for x in v]
        if isinstance(v, list)
        else v
        for k, v in value.items()
    }
