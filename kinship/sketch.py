"""Per-model sketches: a model's values at its architecture's shared coordinates, read
once by HTTP Range and stored, so every pair, edge and relative of a family is then
answered from stored sketches without reading weights again.

Reading a Hub model's sketch costs one ``model_info`` (the commit and the file list),
one resolver request per safetensors file (``hub.ranges``: each file is resolved once
and read at the signed location it redirects to), and CDN Range reads: each file's
header (two reads) and the plan's blocks (neighbours share a request).  The
coordinates come from :mod:`kinhub.kinship.sketch_plan`; the values are stored as
float32 (exact for bf16, f16 and f32) by :mod:`kinhub.db.sketch_store`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from kinhub.db import sketch_store, sketch_summary
from kinhub.db.engine import Database
from kinhub.db.ids import split_revision, validate_repo_id
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError
from kinhub.hub.models import HubModel
from kinhub.hub.ranges import RangeReader
from kinhub.hub.shared import shared_client
from kinhub.kinship.errors import KinshipError, ModelSourceError, RemoteReadError
from kinhub.kinship.fused import to_float32
from kinhub.kinship.sketch_plan import (
    DEFAULT_BLOCK,
    DEFAULT_SEED,
    DEFAULT_SIZE,
    SketchLayout,
    make_plan,
)
from kinhub.kinship.sketch_summary import projection
from kinhub.kinship.weights import DTYPES, TensorInfo, index_files

logger = logging.getLogger(__name__)

_FLOAT_DTYPES = ("BF16", "F16", "F32")
# Every tensor costs at least one block and so one request: a repo declaring more than
# this many (hostile, or not a model) is refused rather than read (a 70B llama has 723).
MAX_SKETCH_TENSORS = 20_000


class RangeSource:
    """A ``ByteSource`` over a :class:`RangeReader` (file sizes from the resolve)."""

    def __init__(self, reader: RangeReader) -> None:
        self.reader = reader

    def size(self, file: str) -> int:
        try:
            return self.reader.size(file)
        except HubError as exc:
            raise RemoteReadError(self.reader.repo_id, file, f"cannot get size: {exc}") from exc

    def read(self, file: str, offset: int, length: int) -> bytes:
        try:
            return self.reader.read(file, offset, length)
        except HubError as exc:
            raise RemoteReadError(self.reader.repo_id, file, f"range read failed: {exc}") from exc

    def read_into(self, file: str, offset: int, buf: memoryview) -> int:
        data = self.read(file, offset, len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


@dataclass
class SketchRead:
    """A sketch read from the Hub, and what reading it cost."""

    model: str
    sha: str
    layout: SketchLayout
    values: np.ndarray  # float32, plan order
    bytes_read: int
    requests: int  # resolver requests (the quota that counts)
    cdn_requests: int
    reresolves: int
    seconds: float


def weight_files(files: Sequence[str]) -> list[str]:
    """The top-level safetensors files of a repo's file list, sorted."""
    return sorted(f for f in files if f.endswith(".safetensors") and "/" not in f)


def read_sketch(
    ref: str,
    *,
    hub: HubClient | None = None,
    endpoint: str | None = None,
    size: int = DEFAULT_SIZE,
    block: int = DEFAULT_BLOCK,
    seed: int = DEFAULT_SEED,
    workers: int = 8,
    info: HubModel | None = None,
) -> SketchRead:
    """Read the sketch of Hub model ``org/name[@rev]`` (``info``: its ``model_info``
    when the caller has it).

    Raises:
        InvalidRepoIdError, ModelSourceError (no safetensors, repo unreadable),
        RemoteReadError, WeightsFormatError.
    """
    t0 = time.perf_counter()
    repo_id, revision = split_revision(ref)
    validate_repo_id(repo_id)
    client = hub or shared_client(endpoint)
    if info is None:
        info = _model_info(client, ref)
    sha = info.sha or revision or "main"
    files = weight_files(info.files or ())
    if not files:
        raise ModelSourceError(ref, "no safetensors files in the repo (a sketch needs them)")
    reader = client.range_reader(repo_id, revision=sha, workers=workers)
    source = RangeSource(reader)
    tensors = {
        name: t for name, t in index_files(source, files).items() if t.dtype in _FLOAT_DTYPES
    }
    if not tensors:
        raise ModelSourceError(ref, "no floating-point tensors to sketch")
    if len(tensors) > MAX_SKETCH_TENSORS:
        raise ModelSourceError(
            ref, f"{len(tensors)} tensors: more than a sketch reads ({MAX_SKETCH_TENSORS})"
        )
    layout = make_plan({n: t.shape for n, t in tensors.items()}, size=size, block=block, seed=seed)
    values = _read_values(source, tensors, layout)
    counters = reader.counters
    return SketchRead(
        model=repo_id,
        sha=sha,
        layout=layout,
        values=values,
        bytes_read=counters.bytes,
        requests=counters.resolver,
        cdn_requests=counters.cdn,
        reresolves=counters.reresolves,
        seconds=time.perf_counter() - t0,
    )


def _model_info(client: HubClient, ref: str) -> HubModel:
    """Raises: ModelSourceError (cause: the hub error)."""
    repo_id, revision = split_revision(ref)
    try:
        return client.model_info(repo_id, revision=revision)
    except HubError as exc:
        raise ModelSourceError(ref, f"cannot read repo info: {exc}") from exc


def _read_values(
    source: RangeSource, tensors: dict[str, TensorInfo], layout: SketchLayout
) -> np.ndarray:
    """The plan's values, one coalesced batch of ranges per file."""
    spans: list[tuple[TensorInfo, int, int]] = []
    for pt in layout.tensors:
        info = tensors[pt.name]
        spans.extend((info, lo, hi) for lo, hi in pt.spans(layout.block))
    out = np.empty(sum(hi - lo for _, lo, hi in spans), dtype=np.float32)
    where: list[int] = []
    pos = 0
    for _, lo, hi in spans:
        where.append(pos)
        pos += hi - lo
    by_file: dict[str, list[int]] = {}
    for i, (info, _, _) in enumerate(spans):
        by_file.setdefault(info.file, []).append(i)
    for file, members in by_file.items():
        ranges = [
            (spans[i][0].start + spans[i][1] * spans[i][0].itemsize,
             (spans[i][2] - spans[i][1]) * spans[i][0].itemsize)
            for i in members
        ]  # fmt: skip
        try:
            chunks = source.reader.read_many(file, ranges)
        except HubError as exc:
            raise RemoteReadError(source.reader.repo_id, file, f"range read failed: {exc}") from exc
        for i, data in zip(members, chunks, strict=True):
            info, lo, hi = spans[i]
            raw = np.frombuffer(data, dtype=DTYPES[info.dtype][0], count=hi - lo)
            out[where[i] : where[i] + hi - lo] = to_float32(
                raw, info.dtype, np.empty(hi - lo, np.uint32)
            )
    return out


# -- sketching models into the database ---------------------------------------------------


@dataclass
class SketchOutcome:
    """What ``kinhub sketch`` did for one model (one JSON object per model)."""

    model: str
    sha: str | None
    status: str  # sketched | stored (already there) | failed
    values: int = 0
    bytes_read: int = 0
    requests: int = 0
    cdn_requests: int = 0
    reresolves: int = 0
    seconds: float = 0.0
    plan: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def store_sketch(database: Database, read: SketchRead) -> None:
    """Store a sketch read (its plan once, then its values and, in the same
    transaction, the model's summary for ``kinhub relatives``)."""
    with database.write_transaction() as session:
        sketch_store.save_plan(
            session,
            key=read.layout.key,
            size=read.layout.size,
            block=read.layout.block,
            seed=read.layout.seed,
            num_params=read.layout.num_params,
            layout=read.layout.to_layout(),
        )
        row = sketch_store.model_row(session, read.model)
        assert row.id is not None
        sketch_store.save_sketch(
            session,
            model_id=row.id,
            revision=read.sha,
            plan_key=read.layout.key,
            data=read.values.astype("<f4").tobytes(),
            bytes_read=read.bytes_read,
            resolver_requests=read.requests,
            cdn_requests=read.cdn_requests,
            seconds=read.seconds,
        )
        sketch_summary.save_summary(
            session,
            model_id=row.id,
            revision=read.sha,
            plan_key=read.layout.key,
            data=projection(read.layout).summary_bytes(read.values),
        )


def sketch_model(
    database: Database,
    ref: str,
    *,
    endpoint: str | None = None,
    hub: HubClient | None = None,
    size: int = DEFAULT_SIZE,
    block: int = DEFAULT_BLOCK,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> SketchOutcome:
    """Read and store the sketch of ``ref``'s current revision, unless one is stored.

    Raises: what :func:`read_sketch` raises.
    """
    repo_id, _ = split_revision(ref)
    validate_repo_id(repo_id)
    client = hub or shared_client(endpoint)
    info = _model_info(client, ref)
    sha = info.sha
    if not force:
        with database.session() as session:
            row = sketch_store.find_model(session, repo_id)
            have = (
                sketch_store.load_sketch(session, row.id, sha)
                if row is not None and row.id is not None and sha
                else None
            )
        if have is not None:
            return SketchOutcome(
                model=repo_id, sha=sha, status="stored", values=len(have.data) // 4,
                plan=have.plan_key,
            )  # fmt: skip
    ref = f"{repo_id}@{sha}" if sha else ref
    read = read_sketch(ref, hub=client, size=size, block=block, seed=seed, info=info)
    store_sketch(database, read)
    logger.info(
        "sketched %s@%s: %d values, %d bytes, %d resolver + %d CDN requests",
        read.model, read.sha[:12], read.values.size, read.bytes_read, read.requests,
        read.cdn_requests,
    )  # fmt: skip
    return SketchOutcome(
        model=read.model,
        sha=read.sha,
        status="sketched",
        values=int(read.values.size),
        bytes_read=read.bytes_read,
        requests=read.requests,
        cdn_requests=read.cdn_requests,
        reresolves=read.reresolves,
        seconds=read.seconds,
        plan=read.layout.key,
    )


def sketch_models(
    database: Database,
    refs: Sequence[str],
    *,
    all_models: bool = False,
    endpoint: str | None = None,
    size: int = DEFAULT_SIZE,
    block: int = DEFAULT_BLOCK,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    on_outcome: Callable[[SketchOutcome], None] | None = None,
) -> list[SketchOutcome]:
    """Sketch ``refs`` and (``all_models``) every model with weights and no sketch of its
    current revision; one model's failure is recorded on its outcome, not raised."""
    todo = list(dict.fromkeys(refs))
    if all_models:
        with database.session() as session:
            todo.extend(m for m in sketch_store.unsketched_models(session) if m not in todo)
    client = shared_client(endpoint)
    out: list[SketchOutcome] = []
    for ref in todo:
        try:
            outcome = sketch_model(
                database, ref, hub=client, size=size, block=block, seed=seed, force=force
            )
        except (KinshipError, HubError, ValueError) as exc:
            logger.warning("%s: cannot sketch: %s", ref, exc)
            outcome = SketchOutcome(model=ref, sha=None, status="failed", error=str(exc))
        out.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return out
