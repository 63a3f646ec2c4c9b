"""Hostile but plausible repos, for the tests and benchmarks of issue 16: what anyone
can push to the Hub to stop, flood or fool a crawl.

Each generator returns repo contents in the emulator's inline form (``repo id → file
name → text or bytes``, what ``tests.conftest.write_hub`` writes), so a test serves
them through the real emulator next to well-behaved repos.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

RepoFiles = dict[str, str | bytes]
Contents = dict[str, RepoFiles]


def safetensors_bytes(header: Mapping[str, Any], *, data: bytes = b"") -> bytes:
    """A safetensors file with ``header`` (taken as given, however wrong) and ``data``."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def huge_shapes_header(dims: Sequence[int] = (2**40, 2**40)) -> dict[str, Any]:
    """A header whose one tensor declares a parameter count beyond 64 bits."""
    return {"w": {"dtype": "F32", "shape": list(dims), "data_offsets": [0, 0]}}


def card(front_matter: str = "license: mit\n", body: str = "# model\n") -> str:
    return f"---\n{front_matter}---\n{body}"


def wide_recipe(ingredients: Sequence[str], *, base: str, weights: Sequence[float]) -> str:
    """A mergekit recipe (``ties`` on ``base``) with one entry per ingredient."""
    lines = ["merge_method: ties", f"base_model: {base}", "models:"]
    for name, weight in zip(ingredients, weights, strict=True):
        lines += [f"  - model: {name}", "    parameters:", f"      weight: {weight}"]
    return "\n".join(lines) + "\n"


def wide_merge(n: int, *, org: str = "wide") -> Contents:
    """A merge of ``n`` ingredients (each a repo, fine-tuned from one base), weights
    falling with the index: the recipe that once queued n·(n−1)/2 pair jobs."""
    base = f"{org}/base"
    names = [f"{org}/ingredient-{i:05d}" for i in range(n)]
    weights = [round(1.0 - i / (2 * n), 6) for i in range(n)]
    contents: Contents = {base: {"README.md": card()}}
    for name in names:
        contents[name] = {"README.md": card(f"base_model: {base}\nlicense: mit\n")}
    recipe = wide_recipe(names, base=base, weights=weights)
    contents[f"{org}/merge"] = {
        "README.md": card("license: mit\ntags:\n- merge\n- mergekit\n"),
        "mergekit_config.yml": recipe,
    }
    return contents


def many_parents(n: int, *, name: str = "hostile/many-parents", org: str = "ghost") -> Contents:
    """A card whose front matter names ``n`` ``base_model`` parents (none of them
    exists): following them all would cost ``n`` API calls."""
    parents = "".join(f"- {org}/parent-{i:05d}\n" for i in range(n))
    return {name: {"README.md": card(f"license: mit\nbase_model:\n{parents}")}}


def nul_card(*, name: str = "hostile/nul", parent: str = "good/base") -> Contents:
    """NUL and other control characters in a base_model, a tag, a recipe model name
    and the card body."""
    front = f"base_model: {parent}\x00evil\nlicense: mit\x1b[31m\ntags:\n- a\x00b\n"
    body = (
        "# hi\x00 there\n\n```yaml\nmerge_method: linear\nmodels:\n"
        f"  - model: {parent}\n    parameters: {{weight: 0.5}}\n"
        "  - model: org/x\x07y\n    parameters: {weight: 0.5}\n```\n"
    )
    return {name: {"README.md": card(front, body)}}


def huge_parameters(*, name: str = "hostile/huge") -> Contents:
    """A safetensors header declaring more than 2**64 parameters."""
    return {
        name: {"README.md": card(), "model.safetensors": safetensors_bytes(huge_shapes_header())}
    }


__all__ = [
    "Contents",
    "card",
    "huge_parameters",
    "huge_shapes_header",
    "many_parents",
    "nul_card",
    "safetensors_bytes",
    "wide_merge",
    "wide_recipe",
]
