"""mergekit configurations for merges kinhub proposes (``partners --emit-config``, ``plan``).

The inverse of the recipe parser: models, a method and a base in, a mergekit YAML
out, which ``mergekit-yaml config.yml out/`` runs as it is.  The partner search and
the merge planner propose the merges; this module only writes them.  Where each
method's config puts ``base_model`` is declared here with its parameters, as
mergekit's source defines it (the recipe parser's method registry,
``kinhub.crawler.methods``, declares the same for reading; the tests check that the
two agree and that mergekit accepts every config):

* anchor methods (``ties``, ``dare_ties``, ``task_arithmetic``, ``della``,
  ``model_stock``) get ``base_model`` = the shared base, which is not one of the
  merged models;
* ``slerp`` takes ``base_model`` as one of its two inputs: the first model;
* ``linear`` has no base.

Parameters are mergekit's usual starting points (weights 0.5, density 0.5, ``t`` 0.5,
DELLA ``epsilon`` 0.1); ``dtype`` is the models' common dtype (else the widest of
bfloat16, float16, float32 they use); ``tokenizer_source: union`` is set when the
vocabularies differ.  Output is plain YAML written with ``yaml.safe_dump``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from kinhub.db.errors import KinhubError
from kinhub.db.ids import validate_repo_id
from kinhub.kinship.names import EMIT_METHODS

# What each method does with ``base_model``: ``anchor`` — the shared base, subtracted
# (the models become task vectors against it); ``input`` — one of the two models
# interpolated (the first); ``unused`` — no base_model.
BaseUse = Literal["anchor", "input", "unused"]
_BASE_USE: dict[str, BaseUse] = {
    "slerp": "input",
    "linear": "unused",
    "ties": "anchor",
    "dare_ties": "anchor",
    "task_arithmetic": "anchor",
    "della": "anchor",
    "model_stock": "anchor",
}

# Per-model parameters (mergekit's ``models[].parameters``) and shared ones.
_PER_MODEL: dict[str, dict[str, float]] = {
    "slerp": {},
    "linear": {"weight": 0.5},
    "ties": {"weight": 0.5, "density": 0.5},
    "dare_ties": {"weight": 0.5, "density": 0.5},
    "task_arithmetic": {"weight": 0.5},
    "della": {"weight": 0.5, "density": 0.5, "epsilon": 0.1},
    "model_stock": {},
}
_SHARED: dict[str, dict[str, Any]] = {
    "slerp": {"t": 0.5},
    "linear": {"normalize": True},
    "ties": {"normalize": True},
    "dare_ties": {"normalize": True},
    "task_arithmetic": {"normalize": False},
    "della": {"normalize": True, "lambda": 1.0},
    "model_stock": {},
}
_DTYPE_ORDER = ("bfloat16", "float16", "float32")
DEFAULT_DTYPE = "bfloat16"
TOKENIZER_UNION = "union"


class EmitError(KinhubError, ValueError):
    """A configuration that cannot be written (unknown method, missing base, …)."""


@dataclass(frozen=True)
class EmitModel:
    """One model of the merge: Hub id, stored dtype and vocabulary size (when known)."""

    id: str
    dtype: str | None = None
    vocab_size: int | None = None


def choose_dtype(models: Sequence[EmitModel]) -> str:
    """The models' common dtype; when they differ, the first of bfloat16, float16,
    float32 any of them uses; bfloat16 when none is known."""
    known = {m.dtype for m in models if m.dtype in _DTYPE_ORDER}
    if len(known) == 1:
        return str(known.pop())
    for name in _DTYPE_ORDER:
        if name in known:
            return name
    return DEFAULT_DTYPE


def needs_tokenizer_source(models: Sequence[EmitModel], base: EmitModel | None = None) -> bool:
    """True when the vocabularies (known ones) differ in size."""
    sizes = {m.vocab_size for m in [*models, *([base] if base else [])] if m.vocab_size}
    return len(sizes) > 1


def merge_config(
    *,
    method: str,
    models: Sequence[EmitModel],
    base: EmitModel | None = None,
) -> dict[str, Any]:
    """The mergekit configuration (a plain dict) merging ``models`` with ``method``.

    Raises:
        EmitError: ``method`` is not one of :data:`EMIT_METHODS`, fewer than two models,
            an anchor method without ``base``, or a base that is one of the models.
        InvalidRepoIdError: a model id is not a Hub id.
    """
    if method not in EMIT_METHODS:
        raise EmitError(f"cannot write {method!r} configs; methods: {', '.join(EMIT_METHODS)}")
    base_use = _BASE_USE[method]
    if len(models) < 2:
        raise EmitError(f"{method} needs at least two models, got {len(models)}")
    if len({m.id for m in models}) != len(models):
        raise EmitError("a model is named twice")
    for m in [*models, *([base] if base else [])]:
        validate_repo_id(m.id)
    if method == "slerp" and len(models) != 2:
        raise EmitError(f"slerp merges exactly two models, got {len(models)}")
    doc: dict[str, Any] = {}
    per_model = _PER_MODEL[method]
    entries = []
    for m in models:
        entry: dict[str, Any] = {"model": m.id}
        if per_model:
            entry["parameters"] = dict(per_model)
        entries.append(entry)
    doc["models"] = entries
    doc["merge_method"] = method
    if base_use == "anchor":
        if base is None:
            raise EmitError(f"{method} subtracts a base model; no shared base is known")
        if base.id in {m.id for m in models}:
            raise EmitError(f"{method}: the base {base.id} cannot also be a merged model")
        doc["base_model"] = base.id
    elif base_use == "input":
        doc["base_model"] = models[0].id
    if _SHARED[method]:
        doc["parameters"] = dict(_SHARED[method])
    anchor = base if base_use == "anchor" else None
    doc["dtype"] = choose_dtype([*models, *([anchor] if anchor else [])])
    if needs_tokenizer_source(models, anchor):
        doc["tokenizer_source"] = TOKENIZER_UNION
    return doc


def emit_yaml(
    *,
    method: str,
    models: Sequence[EmitModel],
    base: EmitModel | None = None,
    comment: Sequence[str] = (),
) -> str:
    """:func:`merge_config` as YAML, after ``#`` comment lines (one per ``comment`` item).

    Raises: what :func:`merge_config` raises.
    """
    doc = merge_config(method=method, models=models, base=base)
    lines = [f"# {' '.join(line.split())}" for line in comment]
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    return "\n".join([*lines, body]) if lines else body


__all__ = [
    "DEFAULT_DTYPE",
    "EMIT_METHODS",
    "EmitError",
    "EmitModel",
    "choose_dtype",
    "emit_yaml",
    "merge_config",
    "needs_tokenizer_source",
]
