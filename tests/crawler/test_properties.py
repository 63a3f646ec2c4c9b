"""Property tests: no input, however broken, makes the parsers or model_facts raise."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kinhub.crawler.facts import model_facts
from kinhub.crawler.methods import find_method
from kinhub.crawler.parse import parse_card, parse_config
from kinhub.crawler.recipe import Stage
from kinhub.crawler.result import ParseResult
from kinhub.db.ids import is_repo_id

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLES = [
    p.read_text(encoding="utf-8")
    for p in sorted((FIXTURES / "cards").glob("*.md"))
    + sorted((FIXTURES / "dev" / "cards").glob("*.md"))
    + sorted((FIXTURES / "configs").glob("*.y*ml"))
]
SPECIAL = [
    ":",
    "- ",
    "---\n",
    "```",
    "```yaml",
    "~~~",
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object:x ",
    "!!binary ",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "\t",
    "\r\n",
    "\x00",
    "\ufeff",
    "% ",
    "@",
    "+",
    "? ",
    "|\n",
    ">-\n",
    "#",
    "\\",
    "models--",
    "/snapshots/",
    "merge_method: ",
    "models:\n",
    "  - model: ",
    "slices:\n",
    "experts:\n",
    "genome:\n",
    "base_model: ",
    "name: ",
    "merge_method: slerp\n",
    "merge_method: ties\n",
    "merge_method: passthrough\n",
    ".inf",
    "2024-01-01",
    "1e-5",
    "\u2028",
    "\U0001f9e9",
    # prose forms (crawler.prose_forms) and partial recipes
    "## Merged models\n",
    "## Experts\n",
    "## Base model\n",
    "Base model: ",
    "**Models used:**\n",
    "- org/a\n",
    "* [org/b](https://huggingface.co/org/b)\n",
    " is a merge of ",
    " + ",
    "depth up-scaled ",
    "병합",
    "合并",
    "Verwendete Modelle",
    "- model: org/a\n  layer_range: [0, 8]\n",
    "!!python/tuple ",
    "!!python/object/apply:collections.OrderedDict\n- - - ",
    "!custom ",
]


def _roles_follow_method(stage: Stage) -> None:
    """``base`` only for a subtracted (or, method unknown, any) base; ``slice`` only
    for a layer-stacking (or unknown) method."""
    method = find_method(stage.merge_method)
    roles = {i.role for i in stage.inputs}
    if method is not None:
        if not method.subtracts_base:
            assert "base" not in roles, stage
        if not method.stacks_layers:
            assert "slice" not in roles, stage


def _check_all(text: str) -> None:
    for result in (parse_card(text), parse_config(text)):
        _check_roles(result)
        out = result.to_json()
        json.dumps(out, allow_nan=False)
        assert not any(w.startswith("internal error") for w in out["warnings"]), out["warnings"]
    facts = model_facts(
        card_text=text,
        config_text=text,
        hub_tags=["base_model:" + text[:40]],
        files=[text[:30], "adapter_config.json" if len(text) % 2 else "model.safetensors"],
    )
    assert not any("internal error" in w for w in facts.warnings), facts.warnings
    for edge in facts.edges:
        assert not edge.parent_resolved or is_repo_id(edge.parent), edge
    json.dumps([e.parameters for e in facts.edges], allow_nan=False)
    json.dumps([r.stages for r in facts.recipes], allow_nan=False)


def _check_roles(result: ParseResult) -> None:
    if result.recipe is not None:
        for stage in (result.recipe.final, *result.recipe.earlier):
            _roles_follow_method(stage)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "truncate", "special", "repeat"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(st.text(max_size=40)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 200)) :]
        elif op == "truncate":
            text = text[:pos]
        elif op == "special":
            text = text[:pos] + draw(st.sampled_from(SPECIAL)) + text[pos:]
        else:
            end = min(len(text), pos + draw(st.integers(1, 80)))
            text = text[:pos] + text[pos:end] * draw(st.integers(2, 400)) + text[pos:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixture())
def test_mutated_fixtures_never_raise(text: str) -> None:
    _check_all(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_random_text_never_raises(text: str) -> None:
    _check_all(text)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=12)), max_size=60).map("".join)
)
def test_yaml_special_soup_never_raises(text: str) -> None:
    _check_all(text)
