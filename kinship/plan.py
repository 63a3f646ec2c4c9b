"""Planning: which tensors three models share, and what is dropped, before reading any data.

Two conventions:

* ``native`` — every tensor the three share; resized vocabularies compare the common
  leading rows (rows dropped are reported); a tied ``lm_head`` (absent from the files,
  ``tie_word_embeddings`` in config.json, or the same bytes as the embeddings) is counted
  once; tensors missing on a side are reported.
* ``modelkinship`` — what the reference ``merge_cal`` does: iterate the base model's
  state-dict keys (a tied ``lm_head.weight`` is a key of its own there, so it counts
  twice), cut the first dimension of A and B to the base's vocabulary rows, skip keys
  missing in A or B; a shape that still differs from the base is a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinhub.kinship.errors import PlanError
from kinhub.kinship.weights import ModelWeights, TensorInfo, iter_names

LM_HEAD = "lm_head.weight"
_EMBED_NAMES = ("model.embed_tokens.weight", "transformer.wte.weight", "model.embed_in.weight")


@dataclass(frozen=True)
class PlanEntry:
    """One tensor to compare: its three locations and how many leading elements to use."""

    name: str
    a: TensorInfo
    b: TensorInfo
    z: TensorInfo
    numel: int
    layer: int | None

    @property
    def bytes(self) -> int:
        return self.numel * (self.a.itemsize + self.b.itemsize + self.z.itemsize)


@dataclass
class Plan:
    """Tensors to stream and everything left out, with the reason."""

    convention: str
    entries: list[PlanEntry]
    dropped: dict[str, Any] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(e.numel for e in self.entries)

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.entries)

    @property
    def largest(self) -> int:
        return max((e.numel for e in self.entries), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "convention": self.convention,
            "tensors": len(self.entries),
            "params": self.params,
            "bytes": self.bytes,
            "entries": [
                {"name": e.name, "numel": e.numel, "shape": list(e.z.shape), "layer": e.layer}
                for e in self.entries
            ],
            "dropped": self.dropped,
        }


def layer_index(name: str) -> int | None:
    """Transformer block index from names like ``model.layers.12.mlp.up_proj.weight``."""
    parts = name.split(".")
    for key in ("layers", "h", "blocks", "layer"):
        if key in parts:
            i = parts.index(key)
            if i + 1 < len(parts) and parts[i + 1].isdigit():
                return int(parts[i + 1])
    return None


def embed_name(mw: ModelWeights) -> str | None:
    for n in _EMBED_NAMES:
        if n in mw.tensors:
            return n
    return next((n for n in mw.tensors if n.endswith("embed_tokens.weight")), None)


def is_tied(mw: ModelWeights) -> bool:
    """lm_head shares the embedding: config says so, it is absent, or it is the same bytes."""
    emb = embed_name(mw)
    if emb is None:
        return False
    head = mw.tensors.get(LM_HEAD)
    if head is None:
        return True
    e = mw.tensors[emb]
    same_bytes = (head.file, head.start, head.end) == (e.file, e.start, e.end)
    return same_bytes or mw.tie_word_embeddings


def lookup(mw: ModelWeights, name: str) -> TensorInfo | None:
    """The tensor ``name`` of ``mw``, resolving a tied lm_head to the embedding."""
    if name == LM_HEAD and is_tied(mw):
        emb = embed_name(mw)
        return mw.tensors[emb] if emb else None
    return mw.tensors.get(name)


def _names(mw: ModelWeights) -> list[str]:
    names = list(iter_names(mw))
    if is_tied(mw) and LM_HEAD in names:
        names.remove(LM_HEAD)  # same data as the embedding: one tensor, not two
    return names


def plan_native(a: ModelWeights, b: ModelWeights, z: ModelWeights) -> Plan:
    """Native plan (see module docstring).

    Raises:
        PlanError: nothing comparable at all.
    """
    models = {"a": a, "b": b, "base": z}
    all_tied = all(is_tied(m) for m in models.values())
    order: list[str] = []
    for m in (z, a, b):
        order += [n for n in _names(m) if n not in order]
    if not all_tied and any(is_tied(m) for m in models.values()) and LM_HEAD not in order:
        order.append(LM_HEAD)
    entries: list[PlanEntry] = []
    missing: dict[str, list[str]] = {}
    rows_dropped: dict[str, dict[str, int]] = {}
    mismatch: dict[str, dict[str, list[int]]] = {}
    for name in order:
        infos = {
            side: (None if all_tied and name == LM_HEAD else lookup(m, name))
            for side, m in models.items()
        }
        absent = [s for s, i in infos.items() if i is None]
        if absent:
            missing[name] = absent
            continue
        ia, ib, iz = infos["a"], infos["b"], infos["base"]
        assert ia is not None and ib is not None and iz is not None
        shapes = {s: i.shape for s, i in infos.items() if i is not None}
        if ia.shape == ib.shape == iz.shape:
            numel = iz.numel
        elif (
            len({len(s) for s in shapes.values()}) == 1
            and len({s[1:] for s in shapes.values()}) == 1
        ):
            rows = min(s[0] for s in shapes.values())
            numel = rows * iz.row_numel
            rows_dropped[name] = {s: sh[0] - rows for s, sh in shapes.items() if sh[0] > rows}
        else:
            mismatch[name] = {s: list(sh) for s, sh in shapes.items()}
            continue
        entries.append(PlanEntry(name, ia, ib, iz, numel, layer_index(name)))
    if not entries:
        raise PlanError("the three models share no comparable tensor")
    dropped: dict[str, Any] = {"missing": missing, "rows": rows_dropped, "shape_mismatch": mismatch}
    if any(is_tied(m) for m in models.values()):
        dropped["tied"] = {s: is_tied(m) for s, m in models.items()}
    return Plan("native", entries, dropped)


def plan_modelkinship(a: ModelWeights, b: ModelWeights, z: ModelWeights) -> Plan:
    """The reference tool's plan (see module docstring).  Keys whose cut shape still differs
    from the base are listed in ``Plan.mismatched`` (the reference fails on them in full mode
    and skips them in split mode).

    Raises:
        PlanError: the base has no lm_head / embedding to take the vocabulary size from.
    """
    head = lookup(z, LM_HEAD)
    if head is None:
        raise PlanError(f"{z.ref}: no {LM_HEAD} (or tied embedding) to take the vocabulary from")
    vocab = head.shape[0]
    keys = list(iter_names(z))
    if is_tied(z) and LM_HEAD not in keys:
        keys.append(LM_HEAD)  # transformers' state_dict lists the tied head as its own key
    entries: list[PlanEntry] = []
    missing: dict[str, list[str]] = {}
    mismatched: list[str] = []
    for name in keys:
        iz = lookup(z, name)
        ia, ib = lookup(a, name), lookup(b, name)
        if ia is None or ib is None or iz is None:
            missing[name] = [s for s, i in (("a", ia), ("b", ib)) if i is None]
            continue
        cut = [(min(i.shape[0], vocab), *i.shape[1:]) if i.shape else i.shape for i in (ia, ib)]
        if any(c != iz.shape for c in cut):
            mismatched.append(name)
            continue
        entries.append(PlanEntry(name, ia, ib, iz, iz.numel, layer_index(name)))
    rows: dict[str, dict[str, int]] = {}
    for n in {embed_name(z) or "", LM_HEAD}:
        for side, m in (("a", a), ("b", b)):
            i = lookup(m, n)
            if i is not None and i.shape and i.shape[0] > vocab:
                rows.setdefault(n, {})[side] = i.shape[0] - vocab
    dropped: dict[str, Any] = {
        "missing": missing,
        "shape_mismatch": mismatched,
        "vocab_rows": vocab,
        "rows": rows,
    }
    return Plan("modelkinship", entries, dropped, mismatched)
