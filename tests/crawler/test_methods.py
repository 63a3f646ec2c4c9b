"""The merge-method registry and the roles each method gives its parents."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinhub.crawler.facts import model_facts
from kinhub.crawler.methods import (
    METHODS,
    UnknownMergeMethodError,
    anchor_of,
    find_method,
    get_method,
    is_anchor_method,
)
from kinhub.crawler.parse import parse_card, parse_config
from kinhub.crawler.prose import normalize_method
from kinhub.db.errors import KinhubError
from kinhub.db.records import RecipeRecord
from kinhub.sandbox.hub import generate_hub

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Every method mergekit ships, read from arcee-ai/mergekit at commit a6e402884ba9
# (June 2026, pyproject version 0.1.4): STATIC_MERGE_METHODS in
# mergekit/merge_methods/registry.py plus the @merge_method registrations imported
# by mergekit/merge_methods/__init__.py (multislerp, nearswap, ram, sce).
MERGEKIT_METHODS = {
    "linear",
    "slerp",
    "nuslerp",
    "passthrough",
    "model_stock",
    "arcee_fusion",
    "karcher",
    "task_arithmetic",
    "ties",
    "dare_ties",
    "dare_linear",
    "breadcrumbs",
    "breadcrumbs_ties",
    "della",
    "della_linear",
    "multislerp",
    "nearswap",
    "ram",
    "ramplus_tl",
    "sce",
}
# Removed in mergekit a2dda31 (Feb 2025); older cards still name them.
REMOVED_METHODS = {"consensus_ta", "consensus_ties"}

# What each method's code does with base_model (read from the same commit):
# subtracted from the other models (task vectors) ...
SUBTRACTS_BASE = {
    "task_arithmetic",
    "ties",
    "dare_ties",
    "dare_linear",
    "breadcrumbs",
    "breadcrumbs_ties",
    "della",
    "della_linear",
    "sce",
    "ram",
    "ramplus_tl",
    "model_stock",
    "nuslerp",  # when given: "SLERP on task vectors", base apart from the two models
    "multislerp",  # when given: "tensors -= base_tensor"
    "consensus_ta",
    "consensus_ties",
}
# ... or merged as one of the models (or ignored, and then added as an input).
MERGES_BASE = {"linear", "slerp", "karcher", "passthrough", "nearswap", "arcee_fusion", "moe"}


def test_every_mergekit_method_is_registered() -> None:
    names = {m.name for m in METHODS}
    assert len(names) == len(METHODS), "one entry per method"
    current = {m.name for m in METHODS if m.tool == "mergekit" and not m.removed}
    assert current == MERGEKIT_METHODS
    assert {m.name for m in METHODS if m.removed} == REMOVED_METHODS
    assert names == MERGEKIT_METHODS | REMOVED_METHODS | {"moe"}
    assert get_method("moe").tool == "mergekit-moe"


def test_entries_name_pretty_name_and_reference() -> None:
    for method in METHODS:
        assert method.pretty_name and method.reference_url.startswith("https://"), method
        if method.tool == "mergekit":
            # the pretty name a mergekit card prints reads back as the method
            assert normalize_method(method.pretty_name) == method.name, method


@pytest.mark.parametrize("name", sorted(SUBTRACTS_BASE | MERGES_BASE))
def test_declared_base_behaviour(name: str) -> None:
    assert SUBTRACTS_BASE.isdisjoint(MERGES_BASE)
    assert is_anchor_method(name) is (name in SUBTRACTS_BASE)
    assert get_method(name).stacks_layers is (name == "passthrough")


def test_lookup_of_unknown_names() -> None:
    assert find_method("frobnicate") is None
    assert find_method(None) is None
    assert is_anchor_method("frobnicate") is None
    assert is_anchor_method(None) is None
    assert find_method(" DARE_TIES ") == get_method("dare_ties")
    with pytest.raises(UnknownMergeMethodError) as info:
        get_method("frobnicate")
    assert isinstance(info.value, KinhubError)
    assert "'frobnicate'" in str(info.value) and "dare_ties" in str(info.value)
    assert info.value.known == sorted(m.name for m in METHODS)


def _config(method: str, *, slices: bool) -> str:
    """base listed first (mergekit's habit), then two more models."""
    if slices:
        sources = "".join(
            f"      - model: acme/{m}\n        layer_range: [0, 4]\n" for m in ("Z", "A", "B")
        )
        body = f"slices:\n  - sources:\n{sources}"
    else:
        body = "models:\n" + "".join(f"  - model: acme/{m}\n" for m in ("Z", "A", "B"))
    return f"{body}merge_method: {method}\nbase_model: acme/Z\n"


@pytest.mark.parametrize("slices", [False, True], ids=["models", "slices"])
@pytest.mark.parametrize("name", sorted(MERGEKIT_METHODS | REMOVED_METHODS))
def test_roles_per_method(name: str, slices: bool) -> None:
    result = parse_config(_config(name, slices=slices))
    edges = {
        (e.parent, e.role)
        for e in model_facts(card_text=None, config_text=_config(name, slices=slices)).edges
    }
    if name in SUBTRACTS_BASE:
        base_role = "base"
        assert result.parents == ["acme/A", "acme/B"]
    else:
        assert result.parents == ["acme/Z", "acme/A", "acme/B"]
        base_role = "slice" if slices and name == "passthrough" else "ingredient"
    other = "slice" if slices and name == "passthrough" else "ingredient"
    assert edges == {("acme/Z", base_role), ("acme/A", other), ("acme/B", other)}
    assert not any("not a known method" in w for w in result.warnings)


def test_non_anchor_base_not_listed_is_an_ingredient() -> None:
    result = parse_config(
        "models:\n  - model: org/a\n  - model: org/b\nmerge_method: linear\nbase_model: org/z\n"
    )
    assert [(i.model, i.role) for i in result.inputs] == [
        ("org/z", "ingredient"),
        ("org/a", "ingredient"),
        ("org/b", "ingredient"),
    ]
    assert result.parents == ["org/z", "org/a", "org/b"]


def test_base_with_another_lora_is_another_model() -> None:
    text = (
        "models:\n  - model: org/m+org/lora-b\n  - model: org/x\n"
        "merge_method: ties\nbase_model: org/m+org/lora-a\n"
    )
    result = parse_config(text)
    assert [(i.model, i.lora, i.role) for i in result.inputs] == [
        ("org/m", "org/lora-a", "base"),
        ("org/m", "org/lora-b", "ingredient"),
        ("org/x", None, "ingredient"),
    ]
    edges = {
        (e.parent, e.role, e.lora) for e in model_facts(card_text=None, config_text=text).edges
    }
    assert edges == {
        ("org/m", "base", "org/lora-a"),
        ("org/m", "ingredient", "org/lora-b"),
        ("org/x", "ingredient", None),
    }


def test_unknown_method_keeps_written_roles_and_warns() -> None:
    result = parse_config(_config("frobnicate", slices=True))
    assert [(i.model, i.role) for i in result.inputs] == [
        ("acme/Z", "base"),
        ("acme/Z", "base"),
        ("acme/A", "slice"),
        ("acme/B", "slice"),
    ]
    assert any("'frobnicate' is not a known method" in w for w in result.warnings)
    assert anchor_of(result) is None


def test_nuslerp_base_among_its_two_models_warns() -> None:
    result = parse_config(_config("nuslerp", slices=False))
    assert any("mergekit refuses this" in w for w in result.warnings)
    plain = "models:\n  - model: a/x\n  - model: a/y\nmerge_method: nuslerp\nbase_model: a/z\n"
    assert not parse_config(plain).warnings


def test_every_stage_follows_its_own_method() -> None:
    text = (FIXTURES / "configs" / "multistage_slices.yaml").read_text(encoding="utf-8")
    edges = {
        (e.parent, e.role, e.stage) for e in model_facts(card_text=None, config_text=text).edges
    }
    assert edges == {
        ("acme/Left-7B", "ingredient", "blend"),
        ("acme/Right-7B", "ingredient", "blend"),
        ("acme/Base-7B", "base", None),
        ("acme/Extra-7B", "ingredient", None),
    }


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "cards/lazymergekit_slerp_slices.md",
            {("acme/Hermes-Coder-7B", "ingredient"), ("acme/Story-Chat-7B", "ingredient")},
        ),
        (
            "cards/passthrough_frankenmerge_card.md",
            {("acme/Deep-13B", "slice"), ("acme/Wide-13B", "slice")},
        ),
        (
            "configs/ties_slices.yml",
            {
                ("acme/Mistral-Base-7B", "base"),
                ("acme/Math-7B", "ingredient"),
                ("acme/Code-7B", "ingredient"),
            },
        ),
        (
            "configs/karcher.yml",
            {
                ("acme/Gemma-Base-9B", "ingredient"),
                ("acme/Gemma-Chat-9B", "ingredient"),
                ("acme/Gemma-Story-9B", "ingredient"),
                ("acme/Gemma-Tools-9B", "ingredient"),
            },
        ),
        (
            "configs/moe_base_not_expert.yml",
            {
                ("acme/Mistral-Instruct-7B", "ingredient"),
                ("acme/Mistral-Code-7B", "expert"),
                ("acme/Mistral-Math-7B", "expert"),
                ("acme/Mistral-Story-7B", "expert"),
            },
        ),
    ],
)
def test_fixture_edges(fixture: str, expected: set[tuple[str, str]]) -> None:
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    if fixture.endswith(".md"):
        facts = model_facts(card_text=text, config_text=None)
        source = "card_recipe"
    else:
        facts = model_facts(card_text=None, config_text=text, config_name=Path(fixture).name)
        source = "mergekit_config"
    assert {(e.parent, e.role) for e in facts.edges if e.source == source} == expected


def test_prose_base_role_follows_the_method() -> None:
    def roles(sentence: str) -> list[tuple[str, str]]:
        card = (
            f"# m\n\n{sentence}\n\n### Models Merged\n\n* [org/a](https://huggingface.co/org/a)\n"
        )
        return [(i.model, i.role) for i in parse_card(card).inputs]

    linear = (
        "This model was merged using the [Linear](https://x) merge method using org/z as a base."
    )
    ties = "This model was merged using the [TIES](https://x) merge method using org/z as a base."
    odd = "This model was merged using the Frobnicate merge method using org/z as a base."
    assert roles(linear) == [("org/z", "ingredient"), ("org/a", "ingredient")]
    assert roles(ties) == [("org/z", "base"), ("org/a", "ingredient")]
    assert roles(odd) == [("org/z", "base"), ("org/a", "ingredient")]


def test_anchor_of() -> None:
    ties = parse_config(_config("ties", slices=False))
    assert ties.recipe is not None
    assert anchor_of(ties) == anchor_of(ties.recipe) == anchor_of(ties.recipe.final) == "acme/Z"
    assert anchor_of(parse_config(_config("slerp", slices=True))) is None
    assert anchor_of(parse_config(_config("linear", slices=False))) is None
    plain = parse_config("models:\n  - model: a/x\n  - model: a/y\nmerge_method: nuslerp\n")
    assert anchor_of(plain) is None  # no base given: nothing subtracted
    assert (
        anchor_of(RecipeRecord(source="mergekit_config", merge_method="della", base_model="o/b"))
        == "o/b"
    )
    assert (
        anchor_of(RecipeRecord(source="mergekit_config", merge_method="della", base_model=None))
        is None
    )
    staged = parse_config(
        (FIXTURES / "cards" / "multidoc_in_card.md")
        .read_text(encoding="utf-8")
        .split("```yaml\n")[1]
        .split("```")[0]
    )
    assert staged.recipe is not None
    earlier = staged.recipe.earlier[0]
    assert (earlier.merge_method, anchor_of(earlier)) == ("task_arithmetic", "acme/Base-7B")
    # the final slerp's base is an earlier stage: no model, and slerp subtracts nothing
    assert staged.recipe.final.base_stage == "stage-a" and anchor_of(staged) is None


def test_synthetic_hub_roles_match_the_parser(tmp_path: Path) -> None:
    manifest = generate_hub(tmp_path, n_models=80, seed=3, weights=False)
    checked = set()
    for repo in manifest.repos.values():
        if repo.relation not in ("merge", "moe") or repo.card in ("unclosed", "bad-yaml"):
            continue
        folder = tmp_path / repo.id
        name = "mergekit_moe_config.yml" if repo.relation == "moe" else "mergekit_config.yml"
        facts = model_facts(
            card_text=None,
            config_text=(folder / name).read_text(encoding="utf-8"),
            config_name=name,
        )
        got = {e.parent: e.role for e in facts.edges if e.source == "mergekit_config"}
        assert got == repo.roles, repo.id
        checked.add(repo.method)
    assert {"slerp", "ties", "passthrough", "moe"} <= checked, checked
