"""Architecture signatures: what decides whether mergekit can merge two models.

mergekit merges tensor by tensor, by name, so two models can be merged when they
hold the same tensor names with the same shapes.  The one common exception is the
vocabulary: a model with added tokens has more rows in its embedding and output
matrices, which mergekit handles with ``tokenizer_source``.  A signature therefore
hashes the names and shapes with the vocabulary rows masked (``signature``), and
separately everything including dtypes (``exact``); the derived facts (model type,
layers, hidden size, vocabulary size, dominant dtype) are stored beside them.

Signatures are computed from safetensors headers by ``kinhub.kinship.signature`` and
stored here once per (model, revision).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from kinhub.db.models import ArchSignature, Model
from kinhub.db.timeutil import utcnow
from sqlmodel import Session, col, select

Compatibility = Literal["same", "vocab", "incompatible"]


@dataclass(frozen=True)
class Signature:
    """The architecture facts of one model revision (what ``arch_signature`` stores)."""

    signature: str
    exact: str
    model_type: str | None
    num_layers: int | None
    hidden_size: int | None
    vocab_size: int | None
    dtype: str | None
    num_tensors: int
    num_parameters: int
    source: str = "range"  # local | cache | range; none: the revision has no weights

    def compatibility(self, other: Signature) -> Compatibility:
        """``same`` (tensors line up), ``vocab`` (they line up but the vocabularies differ
        in rows: merge with ``tokenizer_source``) or ``incompatible``."""
        if self.signature != other.signature:
            return "incompatible"
        if self.vocab_size != other.vocab_size:
            return "vocab"
        return "same"

    def to_json(self) -> dict[str, object]:
        return {
            "signature": self.signature,
            "exact": self.exact,
            "model_type": self.model_type,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "vocab_size": self.vocab_size,
            "dtype": self.dtype,
            "num_tensors": self.num_tensors,
            "num_parameters": self.num_parameters,
            "source": self.source,
        }


def hash_tensors(
    tensors: Mapping[str, tuple[tuple[int, ...], str]], *, vocab: int | None
) -> tuple[str, str]:
    """``(signature, exact)`` of a name → (shape, dtype) map.

    The signature masks the leading dimension of every matrix whose leading
    dimension is the vocabulary size (embeddings, output head), so added tokens do not
    change it; the exact hash keeps every dimension and the dtypes.
    """
    masked = []
    exact = []
    for name in sorted(tensors):
        shape, dtype = tensors[name]
        lead = list(shape)
        if vocab is not None and len(shape) >= 2 and shape[0] == vocab:
            lead[0] = -1
        masked.append([name, lead])
        exact.append([name, list(shape), dtype])
    return _sha(masked), _sha(exact)


def _sha(doc: object) -> str:
    return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()


def _of_row(row: ArchSignature) -> Signature:
    return Signature(
        signature=row.signature,
        exact=row.exact,
        model_type=row.model_type,
        num_layers=row.num_layers,
        hidden_size=row.hidden_size,
        vocab_size=row.vocab_size,
        dtype=row.dtype,
        num_tensors=row.num_tensors,
        num_parameters=row.num_parameters,
        source=row.source,
    )


def find_signature(session: Session, *, model_id: int, revision: str) -> Signature | None:
    """The stored signature of one model revision, or None."""
    row = session.exec(
        select(ArchSignature).where(
            col(ArchSignature.model_id) == model_id, col(ArchSignature.revision) == revision
        )
    ).first()
    return _of_row(row) if row is not None else None


def save_signature(session: Session, *, model_id: int, revision: str, signature: Signature) -> None:
    """Store (or replace) the signature of one model revision.  Does not commit."""
    row = session.exec(
        select(ArchSignature).where(
            col(ArchSignature.model_id) == model_id, col(ArchSignature.revision) == revision
        )
    ).first()
    if row is None:
        row = ArchSignature(model_id=model_id, revision=revision, signature="", exact="")
    for key, value in signature.to_json().items():
        setattr(row, key, value)
    row.computed_at = utcnow()
    session.add(row)
    session.flush()


def current_signatures(session: Session, model_ids: Iterable[int]) -> dict[int, Signature]:
    """The signature of each model at its stored sha (a model without a sha: its newest
    stored signature); models without one are absent."""
    ids = sorted(set(model_ids))
    out: dict[int, tuple[bool, object, Signature]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(ArchSignature, Model.sha)
            .join(Model, col(Model.id) == col(ArchSignature.model_id))
            .where(col(ArchSignature.model_id).in_(chunk))
        ).all()
        for row, sha in rows:
            if row.source == "none":  # a revision recorded as having no weights
                continue
            rank = (row.revision == sha, row.computed_at)
            held = out.get(row.model_id)
            if held is None or rank > (held[0], held[1]):
                out[row.model_id] = (rank[0], rank[1], _of_row(row))
    return {model_id: entry[2] for model_id, entry in out.items()}


def models_with_signature(session: Session, *, signature: str, limit: int = 1000) -> list[int]:
    """Ids of models having a stored signature equal to ``signature`` (any revision)."""
    rows = session.exec(
        select(ArchSignature.model_id)
        .where(col(ArchSignature.signature) == signature)
        .distinct()
        .limit(limit)
    )
    return list(rows)


__all__ = [
    "Compatibility",
    "Signature",
    "current_signatures",
    "find_signature",
    "hash_tensors",
    "models_with_signature",
    "save_signature",
]
