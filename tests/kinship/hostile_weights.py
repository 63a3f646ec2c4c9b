"""Corrupt safetensors files for the hostile-input tests: a tiny real model whose header
is rewritten so that it lies (negative, overlapping or partial offsets, a deep nesting, a
shape no integer can hold).  Each maker rewrites ``model.safetensors`` in place."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

Header = dict[str, Any]


def read_st(path: Path) -> tuple[Header, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write_st(path: Path, header: Header | bytes, data: bytes) -> None:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _by_offset(header: Header) -> list[str]:
    names = [k for k in header if k != "__metadata__"]
    return sorted(names, key=lambda k: header[k]["data_offsets"][0])


def negative(path: Path) -> None:
    """The first tensor's range shifted 16 bytes back, into the header (same length)."""
    header, data = read_st(path)
    first = _by_offset(header)[0]
    s, e = header[first]["data_offsets"]
    header[first]["data_offsets"] = [s - 16, e - 16]
    write_st(path, header, data)


def overlapping(path: Path) -> None:
    """A tensor whose range is another tensor's of the same byte size."""
    header, data = read_st(path)
    seen: dict[int, str] = {}
    for name in _by_offset(header):
        s, e = header[name]["data_offsets"]
        if e - s in seen:
            header[name]["data_offsets"] = header[seen[e - s]]["data_offsets"]
            break
        seen[e - s] = name
    else:
        raise AssertionError("no two tensors of the same size")
    write_st(path, header, data)


def trailing(path: Path) -> None:
    """Bytes after the last tensor that no header entry describes."""
    header, data = read_st(path)
    write_st(path, header, data + b"\x7f" * 64)


def deep(path: Path) -> None:
    """A ``__metadata__`` nested 100,000 lists deep."""
    header, data = read_st(path)
    header.pop("__metadata__", None)
    body = json.dumps(header).encode()
    nested = b"[" * 100_000 + b"]" * 100_000
    write_st(path, b'{"__metadata__": ' + nested + b", " + body[1:], data)


def infinite_shape(path: Path) -> None:
    """A shape dimension written as ``1e400`` (a float no integer holds)."""
    header, data = read_st(path)
    first = _by_offset(header)[0]
    header[first]["shape"] = "@SHAPE@"
    text = json.dumps(header).encode().replace(b'"@SHAPE@"', b"[1e400, 2]")
    write_st(path, text, data)


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "negative": negative,
    "overlapping": overlapping,
    "trailing": trailing,
    "deep": deep,
    "infinite_shape": infinite_shape,
}


def corrupt_copy(src: Path, dst: Path, how: str) -> Path:
    """A copy of model folder ``src`` at ``dst`` with its weights corrupted ``how``."""
    shutil.copytree(src, dst)
    CORRUPTIONS[how](dst / "model.safetensors")
    return dst
