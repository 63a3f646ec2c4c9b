"""Hostile input: huge cards, YAML bombs, unsafe tags, deep nesting."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from kinhub.crawler.facts import model_facts
from kinhub.crawler.parse import MAX_CARD_CHARS, parse_card, parse_config, parse_file
from kinhub.crawler.yamlsafe import load_yaml

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

CARD_HEAD = """---
base_model:
- org/base
- org/a
tags: [mergekit, merge]
---
# big

This model was merged using the [TIES](https://arxiv.org/abs/2306.01708) merge method \
using [org/base](https://huggingface.co/org/base) as a base.

```yaml
models:
  - model: org/a
    parameters: {weight: 0.5, density: 0.5}
merge_method: ties
base_model: org/base
```
"""


def test_fifty_megabyte_card_is_truncated_in_bounded_memory() -> None:
    filler = "Lorem ipsum [link](https://example.com) merged using the **x** `y` ``` ---\n"
    text = CARD_HEAD + filler * (50_000_000 // len(filler))
    assert len(text) >= 50_000_000
    tracemalloc.start()
    try:
        result = parse_card(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any("truncated" in w for w in result.warnings)
    assert result.merge_method == "ties"
    assert result.parents == ["org/a"]
    # Far below the 50 MB input: only the first MAX_CARD_CHARS are ever looked at.
    assert peak < 20 * MAX_CARD_CHARS
    assert peak < 40_000_000


def test_single_line_huge_card() -> None:
    result = parse_card("merged using the " + "a " * 3_000_000)
    assert any("truncated" in w for w in result.warnings)
    assert not any(w.startswith("internal error") for w in result.warnings)


def test_huge_file_is_read_partially(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(CARD_HEAD)
        handle.write(("x" * 99 + "\n") * 60_000)  # 6 MB
    result = parse_file(path)
    assert any("only the start was read" in w for w in result.warnings)
    assert result.merge_method == "ties"


def test_billion_laughs_in_loader() -> None:
    data, warnings = load_yaml(BOMB)
    assert data is None
    assert any("alias bomb" in w for w in warnings)


def test_billion_laughs_in_card_front_matter_and_recipe() -> None:
    card = "---\n" + BOMB + "base_model: org/x\n---\n# t\n\n```yaml\n" + BOMB
    card += "merge_method: linear\nmodels:\n  - model: org/a\n    parameters: {w: *i}\n```\n"
    result = parse_card(card)
    assert any("alias bomb" in w for w in result.warnings)
    json.dumps(result.to_json(), allow_nan=False)
    facts = model_facts(card_text=card, config_text=BOMB + "merge_method: linear\n")
    json.dumps([e.parameters for e in facts.edges], allow_nan=False)


def test_unsafe_tags_are_read_as_plain_data_never_run() -> None:
    # Python tags (as evolutionary-merge scripts write them) are read as the plain
    # data under them; nothing is constructed or called.
    text = (
        "merge_method: !!python/object/apply:os.system ['echo pwned']\nmodels:\n  - model: org/a\n"
    )
    result = parse_config(text)
    assert any("tags read as plain data" in w for w in result.warnings)
    assert result.merge_method is None  # a list, not a method name


def test_deep_nesting_does_not_blow_the_stack() -> None:
    deep = "merge_method: linear\nmodels: " + "[" * 5000 + "]" * 5000 + "\n"
    result = parse_config(deep)
    assert not any(w.startswith("internal error") for w in result.warnings)
    deep_map = "merge_method: linear\nparameters:\n" + "".join(
        "  " * i + f"k{i}:\n" for i in range(1, 200)
    )
    result = parse_config(deep_map)
    assert not any(w.startswith("internal error") for w in result.warnings)


def test_many_fences_stay_within_the_yaml_budget() -> None:
    card = "".join(
        "```yaml\nmerge_method: linear\nmodels:\n" + f"  - model: org/m{i}\n" * 2000 + "```\n"
        for i in range(60)
    )
    result = parse_card(card)
    assert result.merge_method == "linear"
    assert any("budget" in w for w in result.warnings)
    assert not any(w.startswith("internal error") for w in result.warnings)
    # identical blocks are read once
    same = parse_card("```yaml\nmerge_method: slerp\nmodels: [{model: o/a}]\n```\n" * 500)
    assert same.to_json()["stages"] == []
    assert not any("several recipes" in w for w in same.warnings)


def test_non_text_input_never_raises() -> None:
    for value in (None, 42, b"merge_method: linear\nmodels: [{model: org/a}]", ["x"]):
        card = parse_card(value)  # type: ignore[arg-type]
        config = parse_config(value)  # type: ignore[arg-type]
        for result in (card, config):
            assert not any(w.startswith("internal error") for w in result.warnings)
    assert parse_config(b"merge_method: linear\nmodels: [{model: org/a}]").parents == ["org/a"]  # type: ignore[arg-type]
