"""The crawl boundary: every record from the Hub (or a local folder) is cleaned once,
here, before the database sees it.

:func:`clean_record` is called by the one record builder
(:func:`kinhub.crawler.record.build_record`), so a crawl, ``kinhub ingest`` and
``kinhub db reparse`` store the same cleaned values.  The rules:

* **Strings.**  A NUL byte (PostgreSQL text cannot hold it), a lone UTF-16
  surrogate (not encodable as UTF-8) and, in identifiers and other short fields
  (repo ids, parents, tags, license, revisions, recipe names, JSON values), every
  other C0 control character and DEL are *replaced* by U+FFFD — replaced, not
  removed, so ``org/a\\x00b`` never turns into the different, valid id ``org/ab``:
  it stays an unresolved reference that is never looked up.  Free texts (the card,
  the config, a recipe's raw text) keep tabs, newlines and other controls (views
  escape them); only NUL and surrogates are replaced there.  Short fields are cut
  to their column's length.
* **Numbers.**  Integers outside signed 64 bits (a safetensors header declaring
  enormous shapes, a card's huge count) become null, with a warning on the model
  (its ``last_error``); non-finite floats in JSON values become null.
* **References.**  At most :data:`MAX_FOLLOWED_REFERENCES` distinct parents of a
  model are followed; the others are kept as unresolved references (no lookups),
  with a warning on the model — 10,000 ``base_model`` parents cost 64 calls, not
  thousands.
* **Depth.**  Nested values (recipe stages, edge parameters) deeper than
  :data:`MAX_DEPTH` are refused: :class:`HostileInputError`, which the crawl records
  on that model as an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields, replace
from typing import Any

from kinhub.crawler.errors import CrawlerError
from kinhub.db.records import EdgeRecord, EvaluationRecord, ModelRecord, RecipeRecord, SourceTexts

MAX_DEPTH = 64
"""Deepest nesting of a JSON value stored from the Hub (the parser caps YAML at 60)."""

MAX_FOLLOWED_REFERENCES = 64
"""Distinct parents of one model the crawl follows (each costs a ``model_info`` call
and its files): the first ones in the parser's order (merge config, card recipe,
prose, front-matter ``base_model``, Hub tags); the rest are stored as unresolved
references, never looked up."""

MAX_ERROR_LENGTH = 500

REPLACEMENT = "\ufffd"
# NUL and lone surrogates: unstorable anywhere.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Every C0 control, DEL, and the unstorable ones: never part of an identifier.
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")

# Column lengths of the short fields (db/models.py).
_MODEL_LENGTHS = {
    "repo_id": 300,
    "sha": 64,
    "license": 200,
    "library_name": 100,
    "pipeline_tag": 100,
    "model_type": 100,
    "gated": 20,
}
_EDGE_LENGTHS = {"parent": 300, "revision": 200, "lora": 300, "stage": 200}
_RECIPE_LENGTHS = {"merge_method": 100, "base_model": 300, "dtype": 20, "tokenizer_source": 300}
_EVALUATION_LENGTHS = {"task": 200, "dataset": 300, "metric": 200, "source_name": 300}
# Integer columns and their bits (BIGINT or INTEGER on PostgreSQL).
_MODEL_INTS = {
    "num_parameters": 64,
    "downloads": 64,
    "hidden_size": 32,
    "num_layers": 32,
    "vocab_size": 32,
    "likes": 32,
}


class HostileInputError(CrawlerError):
    """A value from the Hub that kinhub refuses to store (nesting too deep)."""


def clean_text(value: str) -> str:
    """A free text with NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, value)


def clean_name(value: str, limit: int | None = None) -> str:
    """A short field: every control character, DEL and lone surrogate replaced by
    U+FFFD; cut to ``limit`` characters."""
    value = _CONTROL.sub(REPLACEMENT, value)
    return value[:limit] if limit is not None else value


def one_line(value: object, limit: int = MAX_ERROR_LENGTH) -> str:
    """An error message fit for ``last_error``: one line, clean, at most ``limit``."""
    text = " ".join(str(value).split())
    return clean_name(text, limit)


def in_int64(value: int, bits: int = 64) -> bool:
    """Whether ``value`` fits a signed integer of ``bits`` bits (64: a BIGINT column)."""
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


def clean_json(value: Any, *, depth: int = 0) -> Any:
    """A JSON-like value with its strings cleaned (:func:`clean_name`, keys too),
    integers beyond 64 bits and non-finite floats nulled.

    Raises:
        HostileInputError: nested deeper than :data:`MAX_DEPTH`.
    """
    if depth > MAX_DEPTH:
        raise HostileInputError(f"a value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return clean_name(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if in_int64(value) else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean_name(str(k)): clean_json(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth=depth + 1) for v in value]
    return clean_name(str(value))


def _short(obj: Any, lengths: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, limit in lengths.items():
        value = getattr(obj, name)
        if isinstance(value, str):
            out[name] = clean_name(value, limit)
    return out


def _edge(edge: EdgeRecord) -> EdgeRecord:
    changes = _short(edge, _EDGE_LENGTHS)
    if _CONTROL.search(edge.parent):
        changes["parent_resolved"] = False  # no longer the id it was written as
    return replace(edge, **changes, parameters=clean_json(edge.parameters))


def _cap_references(edges: list[EdgeRecord]) -> tuple[list[EdgeRecord], int]:
    """``edges`` with the parents beyond the first :data:`MAX_FOLLOWED_REFERENCES`
    distinct ones unresolved; and how many distinct parents that left unfollowed."""
    followed: set[str] = set()
    unfollowed: set[str] = set()
    out: list[EdgeRecord] = []
    for edge in edges:
        if edge.parent_resolved and edge.parent not in followed:
            if len(followed) < MAX_FOLLOWED_REFERENCES:
                followed.add(edge.parent)
            else:
                unfollowed.add(edge.parent)
                edge = replace(edge, parent_resolved=False)
        out.append(edge)
    return out, len(unfollowed)


def _recipe(recipe: RecipeRecord) -> RecipeRecord:
    return replace(
        recipe,
        **_short(recipe, _RECIPE_LENGTHS),
        stages=clean_json(recipe.stages),
        raw_text=clean_text(recipe.raw_text),
        warnings=[clean_name(w) for w in recipe.warnings],
    )


def _evaluation(evaluation: EvaluationRecord) -> EvaluationRecord:
    value: float | None = None
    try:
        number = float(evaluation.value) if evaluation.value is not None else None
    except (OverflowError, TypeError, ValueError):  # a 400-digit score, a non-number
        number = None
    if number is not None and math.isfinite(number):
        value = number
    return replace(evaluation, **_short(evaluation, _EVALUATION_LENGTHS), value=value)


def _texts(texts: SourceTexts | None) -> SourceTexts | None:
    if texts is None:
        return None
    return SourceTexts(
        card_text=clean_text(texts.card_text) if texts.card_text is not None else None,
        config_name=clean_name(texts.config_name, 200) if texts.config_name else None,
        config_text=clean_text(texts.config_text) if texts.config_text is not None else None,
        files=[clean_name(f) for f in texts.files] if texts.files is not None else None,
    )


def clean_record(record: ModelRecord) -> tuple[ModelRecord, list[str]]:
    """``record`` fit to store (module docstring) and the warnings cleaning raised
    (numbers out of range, nulled); the warnings are also put on ``last_error``.

    Raises:
        HostileInputError: a nested value is deeper than :data:`MAX_DEPTH`.
    """
    warnings: list[str] = []
    changes: dict[str, Any] = _short(record, _MODEL_LENGTHS)
    for name, bits in _MODEL_INTS.items():
        value = getattr(record, name)
        if isinstance(value, int) and not in_int64(value, bits):
            warnings.append(f"{name} does not fit {bits} bits; stored as null")
            changes[name] = None
    changes["tags"] = [clean_name(t) for t in record.tags]
    changes["architectures"] = [clean_name(a, 200) for a in record.architectures]
    edges = [_edge(e) for e in record.edges]
    changes["edges"], unfollowed = _cap_references(edges)
    if unfollowed:
        warnings.append(
            f"{unfollowed + MAX_FOLLOWED_REFERENCES} parents named; the first "
            f"{MAX_FOLLOWED_REFERENCES} followed, {unfollowed} kept unresolved"
        )
    changes["recipes"] = [_recipe(r) for r in record.recipes]
    changes["evaluations"] = [_evaluation(e) for e in record.evaluations]
    changes["texts"] = _texts(record.texts)
    notes = [record.last_error] if record.last_error else []
    notes += [f"warning: {w}" for w in warnings]
    changes["last_error"] = one_line("; ".join(notes)) if notes else None
    cleaned = replace(record, **changes)
    assert {f.name for f in fields(ModelRecord)} >= set(changes)
    return cleaned, warnings


__all__ = [
    "MAX_DEPTH",
    "MAX_FOLLOWED_REFERENCES",
    "HostileInputError",
    "clean_json",
    "clean_name",
    "clean_record",
    "clean_text",
    "in_int64",
    "one_line",
]
