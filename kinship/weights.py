"""Weights access: resolve a model reference, index its safetensors headers, read ranges.

A model is a local folder or a Hub repo id with an optional ``@revision``.  The index is
built from the safetensors headers only (single ``model.safetensors`` or
``model.safetensors.index.json`` + shards, every offset checked against the file size);
tensors are then read as element ranges: zero-copy views of private mappings for local
files (at most two shards mapped per model, pages released after use), HTTP Range
requests for the Hub in sampled mode.  Nothing ever holds a whole model, and a file
truncated since indexing is a typed error naming the file and tensor.  Pickle checkpoints
are refused unless ``allow_pickle`` and then loaded only with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from kinhub.db.ids import split_revision

if TYPE_CHECKING:
    import torch

from kinhub.kinship.errors import (
    ModelSourceError,
    PickleRefusedError,
    UnsupportedDtypeError,
    WeightsFormatError,
)
from kinhub.kinship.header import (
    DTYPES,
    MAX_JSON_FILE,
    ByteSource,
    TensorInfo,
    loads_bounded,
    parse_header,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DTYPES",
    "INDEX_NAME",
    "SINGLE_NAME",
    "ByteSource",
    "LocalFiles",
    "ModelWeights",
    "TensorInfo",
    "index_files",
    "iter_names",
    "open_folder",
    "open_model",
    "parse_header",
    "resolve_ref",
    "shard_files",
    "torch_dtype",
    "weight_files",
]


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a safetensors dtype name (torch is imported only when needed)."""
    import torch

    return {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[name]


def _st_name(dtype: torch.dtype) -> str | None:
    import torch

    return {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}.get(dtype)


_PAGE = mmap.PAGESIZE
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
MAX_SHARDS = 4096


class LocalFiles:
    """Files in one folder: ``os.pread`` for small reads, private read mappings for tensors.

    At most ``MAX_MAPPED`` files are mapped at a time; ``release`` drops a processed range
    from this process's page tables (``MADV_DONTNEED``; the page cache keeps it), so the
    resident set stays bounded however large the model.  A mapping is only made after
    checking the file still holds the tensor, so a file truncated since indexing is a
    typed error (truncating it *during* a run would still end in SIGBUS, as with any mmap).
    """

    MAX_MAPPED = 2

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bytes_read = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._open: set[int] = set()
        self._maps: dict[str, mmap.mmap] = {}

    def path(self, file: str) -> Path:
        # Names come from the index JSON: refuse anything that could leave the folder.
        # (Checked lexically: HF cache snapshots are symlinks into a blob store.)
        parts = Path(file).parts
        if not parts or Path(file).is_absolute() or ".." in parts or "\\" in file:
            raise WeightsFormatError(file, "file name escapes the model folder")
        return self.root / file

    def size(self, file: str) -> int:
        """Raises: WeightsFormatError when the file is missing or unreadable (an index may
        name shards that are not there)."""
        try:
            return self.path(file).stat().st_size
        except OSError as exc:
            raise WeightsFormatError(file, f"missing or unreadable: {exc.strerror}") from exc

    def _fd(self, file: str) -> int:
        cur = getattr(self._local, "cur", None)
        if cur is not None and cur[0] == file:
            return int(cur[1])
        if cur is not None:
            self._release(cur[1])
        fd = os.open(self.path(file), os.O_RDONLY)
        with self._lock:
            self._open.add(fd)
        self._local.cur = (file, fd)
        return fd

    def _release(self, fd: int) -> None:
        with self._lock:
            if fd in self._open:
                self._open.discard(fd)
                os.close(fd)

    def read_into(self, file: str, offset: int, buf: memoryview) -> int:
        n = os.preadv(self._fd(file), [buf], offset)
        with self._lock:
            self.bytes_read += n
        return n

    def read(self, file: str, offset: int, length: int) -> bytes:
        buf = bytearray(length)
        n = self.read_into(file, offset, memoryview(buf))
        return bytes(buf[:n])

    def mapped(self, file: str, *, end: int, tensor: str) -> mmap.mmap:
        """A copy-on-write (never written) mapping of ``file`` that holds bytes up to ``end``.

        Raises:
            WeightsFormatError: the file is shorter than ``end`` (truncated).
        """
        with self._lock:
            mm = self._maps.get(file)
            if mm is None:
                with open(self.path(file), "rb") as fh:
                    size = os.fstat(fh.fileno()).st_size
                    if size < end:
                        raise WeightsFormatError(
                            file,
                            f"truncated: file is {size} bytes, tensor data ends at byte {end}",
                            tensor=tensor,
                        )
                    mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
                self._maps[file] = mm
                while len(self._maps) > self.MAX_MAPPED:
                    # Views still in use keep their mapping alive; it unmaps when they die.
                    self._maps.pop(next(iter(self._maps)))
        if len(mm) < end:
            raise WeightsFormatError(
                file,
                f"truncated: mapping is {len(mm)} bytes, tensor data ends at byte {end}",
                tensor=tensor,
            )
        return mm

    def count(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_read += nbytes

    def release(self, file: str, offset: int, length: int) -> None:
        """Drop ``[offset, offset+length)`` (widened to pages) from the resident set."""
        mm = self._maps.get(file)
        if mm is None or not hasattr(mm, "madvise"):
            return
        start = offset - offset % _PAGE
        stop = min(len(mm), offset + length + (-(offset + length)) % _PAGE)
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def advise(self, file: str, offset: int, length: int) -> None:
        """Ask the kernel to start reading a range we will need soon (cold-cache prefetch)."""
        if hasattr(os, "posix_fadvise"):
            fd = os.open(self.path(file), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)

    def close(self) -> None:
        """Close every descriptor any thread opened (threads reopen lazily if used again)."""
        with self._lock:
            fds, self._open = self._open, set()
        for fd in fds:
            os.close(fd)
        self._local = threading.local()
        self._maps.clear()  # unmapped once no tensor views them


@dataclass
class ModelWeights:
    """An opened model: its reference, resolved revision, tensor index and byte source."""

    ref: str
    source: ByteSource
    tensors: dict[str, TensorInfo]
    config: dict[str, Any] = field(default_factory=dict)
    repo_id: str | None = None
    revision: str | None = None
    files: list[str] = field(default_factory=list)
    pickled: dict[str, torch.Tensor] | None = None

    @property
    def bytes_read(self) -> int:
        return int(getattr(self.source, "bytes_read", 0))

    @property
    def tie_word_embeddings(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    def read_array(
        self, info: TensorInfo, lo: int, hi: int, buf: bytearray | None = None
    ) -> np.ndarray:
        """Elements ``[lo, hi)`` of the flattened tensor as stored (BF16 as uint16 bits), 1-D.

        Local files are viewed through a private mapping (no copy); other sources read into
        ``buf`` (reused when at least ``(hi-lo)*itemsize`` bytes), which the result views.

        Raises:
            WeightsFormatError: the file ends before the tensor does.
        """
        npdtype, size = DTYPES[info.dtype]
        if self.pickled is not None:
            t = self.pickled[info.name].reshape(-1)[lo:hi]
            if info.dtype == "BF16":
                import torch

                return t.view(torch.int16).numpy().view(np.uint16)
            return t.numpy()
        nbytes = (hi - lo) * size
        if nbytes == 0:
            return np.empty(0, dtype=npdtype)
        offset = info.start + lo * size
        if isinstance(self.source, LocalFiles):
            mm = self.source.mapped(info.file, end=info.end, tensor=info.name)
            self.source.count(nbytes)
            return np.frombuffer(mm, dtype=npdtype, count=hi - lo, offset=offset)
        if buf is None or len(buf) < nbytes:
            buf = bytearray(nbytes)
        got = self.source.read_into(info.file, offset, memoryview(buf)[:nbytes])
        if got != nbytes:
            raise WeightsFormatError(
                info.file,
                f"truncated: expected {nbytes} bytes at offset {offset}, got {got}",
                tensor=info.name,
            )
        return np.frombuffer(buf, dtype=npdtype, count=hi - lo)

    def read(
        self, info: TensorInfo, lo: int, hi: int, buf: bytearray | None = None
    ) -> torch.Tensor:
        """``read_array`` as a torch tensor of the stored dtype (views the same memory)."""
        import torch

        if self.pickled is not None:
            return self.pickled[info.name].reshape(-1)[lo:hi]
        arr = self.read_array(info, lo, hi, buf)
        if info.dtype == "BF16":
            return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(arr)

    def release(self, info: TensorInfo, lo: int, hi: int) -> None:
        """Done with elements ``[lo, hi)``: let their pages leave the resident set."""
        if isinstance(self.source, LocalFiles) and self.pickled is None:
            self.source.release(
                info.file, info.start + lo * info.itemsize, (hi - lo) * info.itemsize
            )

    def close(self) -> None:
        self.source.close()


def index_files(source: ByteSource, files: list[str]) -> dict[str, TensorInfo]:
    """Merge the headers of ``files`` into one name -> TensorInfo index."""
    tensors: dict[str, TensorInfo] = {}
    for f in files:
        for name, info in parse_header(source, f).items():
            if name in tensors:
                raise WeightsFormatError(f, "tensor defined in two shards", tensor=name)
            tensors[name] = info
    return tensors


def shard_files(index_json: dict[str, Any], where: str) -> list[str]:
    """Shard names from a ``model.safetensors.index.json`` document, in first-use order.

    Raises:
        WeightsFormatError: no weight_map, a shard name that is not a string, or more
            than ``MAX_SHARDS`` shards (each costs requests; real models have hundreds).
    """
    wm = index_json.get("weight_map")
    if not isinstance(wm, dict) or not wm:
        raise WeightsFormatError(where, "index has no weight_map")
    if not all(isinstance(v, str) and v for v in wm.values()):
        raise WeightsFormatError(where, "index names a shard that is not a file name")
    shards = list(dict.fromkeys(wm.values()))
    if len(shards) > MAX_SHARDS:
        raise WeightsFormatError(where, f"index names {len(shards)} shards (at most {MAX_SHARDS})")
    return shards


def _load_json(path: Path) -> dict[str, Any]:
    """A small JSON file next to the weights (config, shard index), size and depth bounded.

    Raises:
        WeightsFormatError: unreadable, larger than ``MAX_JSON_FILE``, nested too deep.
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JSON_FILE + 1)
    except OSError as exc:
        raise WeightsFormatError(str(path), f"unreadable JSON: {exc}") from exc
    if len(raw) > MAX_JSON_FILE:
        raise WeightsFormatError(str(path), f"JSON file larger than {MAX_JSON_FILE} bytes")
    data = loads_bounded(raw, str(path))
    return data if isinstance(data, dict) else {}


def _safetensors_files(path: Path) -> list[str]:
    """The safetensors files of a folder, as ``open_folder`` reads them: the shards its
    index names (possibly in subfolders), else ``model.safetensors``, else every
    top-level ``*.safetensors``."""
    if (path / INDEX_NAME).is_file():
        return shard_files(_load_json(path / INDEX_NAME), str(path / INDEX_NAME))
    if (path / SINGLE_NAME).is_file():
        return [SINGLE_NAME]
    return sorted(p.name for p in path.glob("*.safetensors"))


def weight_files(path: Path) -> list[str]:
    """Every file ``open_folder`` reads to measure the model in ``path`` (names relative to
    it): ``config.json`` and the shard index when present, then the safetensors files (or,
    when there are none, the pickle checkpoints).  What a local fingerprint must cover.

    Raises:
        WeightsFormatError: the shard index is unreadable.
    """
    meta = [n for n in ("config.json", INDEX_NAME) if (path / n).is_file()]
    files = _safetensors_files(path)
    if not files:
        files = sorted(p.name for p in path.iterdir() if p.name.endswith(PICKLE_SUFFIXES))
    return meta + files


def open_folder(path: Path, *, ref: str | None = None, allow_pickle: bool = False) -> ModelWeights:
    """Index the weights in a local folder.

    Raises:
        ModelSourceError: no weights found.
        PickleRefusedError: only pickle checkpoints and ``allow_pickle`` is False.
        WeightsFormatError: corrupt headers or index.
    """
    ref = ref or str(path)
    src = LocalFiles(path)
    config = _load_json(path / "config.json") if (path / "config.json").is_file() else {}
    files = _safetensors_files(path)
    if files:
        tensors = index_files(src, files)
        return ModelWeights(ref=ref, source=src, tensors=tensors, config=config, files=files)
    pickles = sorted(p.name for p in path.iterdir() if p.name.endswith(PICKLE_SUFFIXES))
    if not pickles:
        raise ModelSourceError(ref, "no safetensors or checkpoint files found")
    if not allow_pickle:
        raise PickleRefusedError(ref, pickles)
    return _open_pickles(path, pickles, ref=ref, config=config, src=src)


def _open_pickles(
    path: Path, files: list[str], *, ref: str, config: dict[str, Any], src: LocalFiles
) -> ModelWeights:
    import torch

    state: dict[str, torch.Tensor] = {}
    tensors: dict[str, TensorInfo] = {}
    pos = 0
    for f in files:
        try:
            # weights_only=True: tensors and plain containers only, never arbitrary objects.
            loaded = torch.load(path / f, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:
            raise WeightsFormatError(f, f"cannot load checkpoint: {exc}") from exc
        if isinstance(loaded, dict) and "state_dict" in loaded:
            loaded = loaded["state_dict"]
        if not isinstance(loaded, dict):
            raise WeightsFormatError(f, "checkpoint is not a state dict")
        for name, t in loaded.items():
            if not isinstance(t, torch.Tensor):
                continue
            st = _st_name(t.dtype)
            if st is None:
                raise UnsupportedDtypeError(f, f"dtype {t.dtype} not supported", tensor=name)
            state[name] = t.contiguous()
            nbytes = t.numel() * DTYPES[st][1]
            # Pseudo offsets, distinct per tensor, so identity checks (tied heads) stay exact.
            tensors[name] = TensorInfo(name, f, st, tuple(t.shape), pos, pos + nbytes)
            pos += nbytes
            src.bytes_read += nbytes
    return ModelWeights(
        ref=ref, source=src, tensors=tensors, config=config, files=files, pickled=state
    )


def resolve_ref(ref: str) -> tuple[str | None, str | None]:
    """``(repo_id, revision)`` for a Hub reference, ``(None, None)`` for an existing folder.

    Raises:
        InvalidRepoIdError: neither a folder nor a valid ``org/name[@rev]``.
    """
    if Path(ref).is_dir():
        return None, None
    return split_revision(ref)


def open_model(
    ref: str,
    *,
    allow_pickle: bool = False,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    token: str | bool | None = None,
) -> ModelWeights:
    """Open a local folder, or download a Hub repo's weights into the HF cache and open them.

    Only ``*.json`` and ``*.safetensors`` are fetched (plus pickles when allowed), through
    ``kinhub.hub`` (rate limited, retried); ``cache_dir`` defaults to ``HF_HUB_CACHE`` /
    ``HF_HOME`` read now.  Hub errors are the ``__cause__`` of the ModelSourceError.

    Raises:
        InvalidRepoIdError, ModelSourceError, PickleRefusedError, WeightsFormatError.
    """
    repo_id, revision = resolve_ref(ref)
    if repo_id is None:
        return open_folder(Path(ref), ref=ref, allow_pickle=allow_pickle)
    from kinhub.hub.client import HubClient
    from kinhub.hub.errors import HubError, RepoUnavailableError
    from kinhub.hub.shared import shared_client

    patterns = ["*.json", "*.safetensors"]
    if allow_pickle:
        patterns += [f"*{s}" for s in PICKLE_SUFFIXES]
    # The token is found by huggingface_hub (HF_TOKEN or the saved login) unless given.
    hub = shared_client(endpoint)
    if token is not None:
        hub = HubClient(endpoint=hub.endpoint, token=token, limits=hub.limits, retry=hub.retry)
    try:
        folder = hub.download_snapshot(
            repo_id,
            revision=revision,
            patterns=patterns,
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
        )
    except RepoUnavailableError as exc:
        raise ModelSourceError(ref, f"cannot download: {exc.status} ({exc.reason})") from exc
    except HubError as exc:
        raise ModelSourceError(ref, f"download failed: {exc}") from exc
    mw = open_folder(Path(str(folder)), ref=ref, allow_pickle=allow_pickle)
    mw.repo_id = repo_id
    # The snapshot folder is named by the resolved commit sha.
    mw.revision = Path(str(folder)).name
    return mw


def iter_names(mw: ModelWeights) -> Iterator[str]:
    """Tensor names in file order (shard by shard, offset by offset)."""
    order = {f: i for i, f in enumerate(mw.files)}
    yield from sorted(
        mw.tensors, key=lambda n: (order.get(mw.tensors[n].file, 0), mw.tensors[n].start)
    )
