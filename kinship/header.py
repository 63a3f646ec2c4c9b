"""Safetensors headers, checked as the format requires before any tensor byte is read.

A header is untrusted input (anyone can push a file to the Hub).  :func:`parse_header`
accepts it only when it is a bounded JSON object (length ≤ ``MAX_HEADER`` bytes, nesting
≤ ``MAX_JSON_DEPTH``, checked before decoding so a deeply nested header cannot end in
``RecursionError``) whose every tensor has a supported dtype, a shape of at most
``MAX_DIMS`` non-negative dimensions and ``MAX_NUMEL`` elements, and data offsets that
are non-negative integers matching dtype × shape; taken together the tensors must tile
the data buffer exactly — sorted by offset, each starts where the previous one ended,
the first at 0 and the last at the end of the file (contiguous, non-overlapping, inside
the file, as the safetensors format specifies).  Anything else is a
:class:`WeightsFormatError` with a one-line reason; no number is ever computed from such
a file.  :func:`loads_bounded` gives the same size and depth bounds to the small JSON
files read next to the weights (``config.json``, the shard index).
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from kinhub.kinship.errors import UnsupportedDtypeError, WeightsFormatError

#: safetensors dtype name -> (numpy dtype of the stored bits, bytes per element).
#: numpy has no bfloat16: BF16 is read as its uint16 bit pattern.
DTYPES: dict[str, tuple[type[np.generic], int]] = {
    "BF16": (np.uint16, 2),
    "F16": (np.float16, 2),
    "F32": (np.float32, 4),
}

MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit
MAX_JSON_DEPTH = 64  # a real header is 3 deep (object, entry, list)
MAX_DIMS = 16
MAX_NUMEL = 2**48  # elements per tensor: far beyond any model, far below int64 overflow
MAX_JSON_FILE = 64 * 1024 * 1024  # config.json / index: bytes read at most

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)
_KEEP = bytes(range(256)).translate(None, b"[]{}")  # everything but brackets


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: file, dtype, shape and absolute byte range in that file."""

    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return DTYPES[self.dtype][1]

    @property
    def row_numel(self) -> int:
        """Elements per leading row (1 for 1-D tensors)."""
        return math.prod(self.shape[1:]) if len(self.shape) > 1 else 1


class ByteSource(Protocol):
    """Random access to the files of one model (local folder or Hub repo)."""

    def size(self, file: str) -> int: ...

    def read(self, file: str, offset: int, length: int) -> bytes: ...

    def read_into(self, file: str, offset: int, buf: memoryview) -> int: ...

    def close(self) -> None: ...


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON document, strings ignored (no recursion,
    linear time: brackets are counted with numpy after the strings are cut out)."""
    brackets = np.frombuffer(_STRING.sub(b"", raw).translate(None, _KEEP), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    steps = np.isin(brackets, _OPEN).astype(np.int64) - np.isin(brackets, _CLOSE)
    return int(np.cumsum(steps).max())


def loads_bounded(raw: bytes, where: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` of untrusted bytes, refusing documents nested deeper than ``max_depth``.

    Raises:
        WeightsFormatError: not UTF-8 JSON, or nested too deep.
    """
    depth = json_depth(raw)
    if depth > max_depth:
        raise WeightsFormatError(where, f"JSON nested {depth} deep (at most {max_depth})")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WeightsFormatError(where, f"not JSON: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


#: Longest tensor name accepted (real ones are under 200 characters).
MAX_NAME = 16_384


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _entry(file: str, name: str, meta: Any, data_start: int, data_size: int) -> TensorInfo:
    """One header entry as a TensorInfo, every field checked on its own."""
    if "\x00" in name or len(name) > MAX_NAME:  # names end up in stored JSON and tables
        raise WeightsFormatError(
            file, f"bad tensor name: a NUL byte or over {MAX_NAME} characters", tensor=name
        )
    if not isinstance(meta, dict):
        raise WeightsFormatError(file, "bad header entry: not an object", tensor=name)
    dtype, shape, offsets = meta.get("dtype"), meta.get("shape"), meta.get("data_offsets")
    if not isinstance(dtype, str):
        raise WeightsFormatError(file, "bad header entry: no dtype", tensor=name)
    if dtype not in DTYPES:
        raise UnsupportedDtypeError(
            file, f"dtype {dtype[:20]!r} not supported (BF16, F16, F32)", tensor=name
        )
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise WeightsFormatError(
            file, f"bad header entry: shape must be a list of at most {MAX_DIMS} dims", tensor=name
        )
    dims = [_int(d) for d in shape]
    if any(d is None or d < 0 for d in dims):
        raise WeightsFormatError(
            file, "bad header entry: shape dims must be non-negative integers", tensor=name
        )
    numel = 1
    for d in dims:
        numel *= d or 0
        if numel > MAX_NUMEL:
            raise WeightsFormatError(
                file, f"shape holds more than {MAX_NUMEL} elements", tensor=name
            )
    if not isinstance(offsets, list) or len(offsets) != 2:
        raise WeightsFormatError(
            file, "bad header entry: data_offsets must be [begin, end]", tensor=name
        )
    s, e = _int(offsets[0]), _int(offsets[1])
    if s is None or e is None:
        raise WeightsFormatError(
            file, "bad header entry: data_offsets must be integers", tensor=name
        )
    if s < 0 or e < s:
        raise WeightsFormatError(file, f"byte range {s}..{e} is negative or reversed", tensor=name)
    if e - s != numel * DTYPES[dtype][1]:
        raise WeightsFormatError(file, f"byte range {s}..{e} does not match shape", tensor=name)
    if e > data_size:
        raise WeightsFormatError(
            file,
            f"tensor data ends at byte {data_start + e}, past end of file "
            f"({data_start + data_size})",
            tensor=name,
        )
    shape_t = tuple(d or 0 for d in dims)
    return TensorInfo(name, file, dtype, shape_t, data_start + s, data_start + e)


def _check_tiling(file: str, out: dict[str, TensorInfo], data_start: int, data_size: int) -> None:
    """The tensors cover ``[data_start, data_start + data_size)`` exactly once, in order."""
    at = data_start
    for info in sorted(out.values(), key=lambda i: (i.start, i.end)):
        if info.start < at:
            raise WeightsFormatError(
                file, f"data overlaps the previous tensor at byte {info.start}", tensor=info.name
            )
        if info.start > at:
            raise WeightsFormatError(
                file, f"gap in the data before byte {info.start} (not contiguous)", tensor=info.name
            )
        at = info.end
    end = data_start + data_size
    if at != end:
        raise WeightsFormatError(
            file, f"{end - at} bytes after the last tensor are not described by the header"
        )


def parse_header(source: ByteSource, file: str) -> dict[str, TensorInfo]:
    """Index one safetensors file from its header, validating every entry and offset.

    Raises:
        WeightsFormatError: a header that is not a bounded JSON object, a bad entry, or
            offsets that are negative, overlapping, not contiguous or past the end of file.
        UnsupportedDtypeError: a dtype other than BF16/F16/F32.
    """
    size = source.size(file)
    if size < 8:
        raise WeightsFormatError(file, f"too short for a safetensors file ({size} bytes)")
    (n,) = struct.unpack("<Q", source.read(file, 0, 8))
    if n > MAX_HEADER or 8 + n > size:
        raise WeightsFormatError(file, f"header length {n} is impossible for a {size}-byte file")
    raw = source.read(file, 8, n)
    if len(raw) != n:
        raise WeightsFormatError(file, f"truncated: header is {n} bytes, read {len(raw)}")
    try:
        header = loads_bounded(raw, file)
    except WeightsFormatError as exc:
        raise WeightsFormatError(file, f"header is {str(exc)[len(file) + 2 :]}") from exc
    if not isinstance(header, dict):
        raise WeightsFormatError(file, "header is not a JSON object")
    data_start, data_size = 8 + n, size - 8 - n
    out: dict[str, TensorInfo] = {}
    for name, meta in header.items():
        if name != "__metadata__":
            out[name] = _entry(file, name, meta, data_start, data_size)
    _check_tiling(file, out, data_start, data_size)
    return out
