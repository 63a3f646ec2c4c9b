"""The general mechanisms of issue 19, one by one: the tolerant fence scanner, the
recipe recogniser, indentation repairs, quoted recipes, front-matter salvage and
the prose phrase table — and that hostile inputs of each shape stay fast."""

from __future__ import annotations

import time

import pytest
from kinhub.crawler.findrecipe import card_recipe
from kinhub.crawler.fragments import join_split_documents
from kinhub.crawler.frontmatter import read_front_matter, salvage_front_matter
from kinhub.crawler.parse import MAX_CARD_CHARS, parse_card
from kinhub.crawler.prose_forms import read_prose_forms, sentences
from kinhub.crawler.prose_ids import ProseLine, ShortNames, model_ids
from kinhub.crawler.quoted import describes_the_base, training_evidence
from kinhub.crawler.recognise import find_recipe, flow_texts, is_header
from kinhub.crawler.repair import read_sections, salvage, untab
from kinhub.crawler.yamlblocks import split_markdown, yaml_runs

# ------------------------------------------------------------------ fence scanner


def test_fence_glued_to_the_end_of_a_sentence_opens_a_block() -> None:
    md = split_markdown("Config:```yaml\nmerge_method: linear\n```\nafter\n")
    assert [(b.lang, b.lines, b.closed) for b in md.blocks] == [
        ("yaml", ("merge_method: linear",), True)
    ]
    assert md.prose == ("Config:", "after", "")
    # Inline code (an even number of fences on the line) is no opening fence.
    assert split_markdown("Use ```x``` here\nmodels:\n").blocks == ()


def test_a_fence_with_a_language_inside_an_open_block_starts_the_next_one() -> None:
    md = split_markdown("```yaml\nexperts: []\n\n## Usage\n```python\nprint(1)\n```\n")
    assert [(b.lang, b.closed) for b in md.blocks] == [("yaml", False), ("python", True)]
    assert md.blocks[1].lines == ("print(1)",)
    # A longer outer fence keeps a shorter inner opening fence as content.
    nested = split_markdown("````md\n```yaml\na: 1\n```\n")
    assert nested.blocks[0].lines == ("```yaml", "a: 1")


def test_a_block_left_open_closes_at_the_first_bare_fence_of_the_other_kind() -> None:
    md = split_markdown("~~~yaml\nexperts: []\n```\n\ntext\n```python\nx = 1\n```\n")
    assert [(b.lang, b.lines, b.closed) for b in md.blocks] == [
        ("yaml", ("experts: []",), True),
        ("python", ("x = 1",), True),
    ]
    assert "text" in md.prose
    # Closed by its own kind: the other kind is content.
    same = split_markdown("~~~\n```\n~~~\n")
    assert [b.lines for b in same.blocks] == [("```",)]


def test_blocks_know_their_place_among_the_prose() -> None:
    md = split_markdown("a\nb\n```\nx: 1\n```\nc\n")
    assert md.blocks[0].position == 2


def test_runs_start_at_a_glued_slices_key_bare_sources_and_blockquotes() -> None:
    glued = "It goes: slices:\n  - sources:\n      - model: a/b\n        layer_range: [0, 8]\n"
    assert yaml_runs(glued.split("\n"))[0].startswith("slices:\n  - sources:")
    assert yaml_runs(["The list of models:", "- org/a"]) == []  # only slices, and with items
    bare = "- sources:\n  - model: a/b\n    layer_range: [0, 8]\n"
    assert yaml_runs(bare.split("\n")) == [bare]
    quoted = "> merge_method: passthrough\n> slices: []\n"
    assert yaml_runs(quoted.split("\n")) == ["merge_method: passthrough\nslices: []\n"]


# ------------------------------------------------------------------ recogniser


def test_a_recipe_is_found_under_wrapper_keys_only_with_a_strong_signature() -> None:
    wrapped = {"search": {"gens": 5}, "best": {"merge_method": "ties", "models": []}}
    assert find_recipe(wrapped) == ({"merge_method": "ties", "models": []}, "best")
    assert find_recipe({"train": {"models": ["a/b"]}}) == (None, None)
    listed = [{"score": 1}, {"slices": [{"sources": [{"model": "a/b"}]}]}]
    assert find_recipe(listed)[1] == "1"
    assert find_recipe("merge_method: x") == (None, None)


def test_flow_mappings_across_lines_and_python_tuples() -> None:
    lines = [
        ">>> print(cfg)",
        "{'merge_method': 'linear',",
        " 'models': [{'model': 'a/b', 'parameters': {'range': (0, 8)}}]}",
        "CONFIG = {",
        '  "merge_method": "ties"',
        "}",
        "{'unrelated': 1}",
    ]
    found = flow_texts(lines)
    assert len(found) == 2
    assert "(0, 8)" not in found[0] and "[0, 8]" in found[0]
    assert found[1].startswith("{")


def test_headers_join_the_inputs_next_to_them() -> None:
    assert is_header({"base_model": "a/b", "dtype": "bfloat16"})
    assert not is_header({"dtype": "bfloat16"})
    assert not is_header({"base_model": "a/b", "license": "mit"})
    notes: list[str] = []
    header = {"base_model": "a/b"}
    moe = {"experts": [{"source_model": "c/d"}]}
    assert join_split_documents([header, moe], notes) == [{**header, **moe}]
    assert join_split_documents([header], notes) == []  # a header alone is no recipe
    slices = [{"sources": [{"model": "a/b", "layer_range": [0, 8]}]}]
    assert join_split_documents([slices], notes) == [{"slices": slices}]


# ------------------------------------------------------------------ repairs


def test_tabs_become_spaces() -> None:
    assert untab("a:\n\t- b\n") == "a:\n  - b\n"
    assert untab("a: b\n") is None


def test_sections_repair_a_key_indented_apart_but_never_guess_damage() -> None:
    text = "    base_model: a/b\ngate_mode: hidden\nexperts:\n  - source_model: c/d\n"
    assert read_sections(text) == {
        "base_model": "a/b",
        "gate_mode": "hidden",
        "experts": [{"source_model": "c/d"}],
    }
    rest = "base_model: a/b\n  experts:\n    - source_model: c/d\n"
    assert read_sections(rest) == {"base_model": "a/b", "experts": [{"source_model": "c/d"}]}
    assert read_sections("models:\n  - model: a/b\n    x: {broken\nmerge_method: ties\n") is None
    assert read_sections("Some prose here\nmodels: []\nmerge_method: ties\n") is None


def test_salvage_reads_flattened_lines_and_refuses_damaged_text() -> None:
    flat = "slices:\n- sources:\n- model: a/b\nlayer_range: [0, 8]\nmerge_method: passthrough\n"
    assert salvage(flat) == {
        "slices": [{"sources": [{"model": "a/b", "layer_range": [0, 8]}]}],
        "merge_method": "passthrough",
    }
    assert salvage("models:\n- model: a/b\n  weight: [0.5\nmerge_method: ties\n") is None
    assert salvage("- model: a/b\n") is None  # no method, ranges or experts: not a recipe


@pytest.mark.parametrize(
    ("fence", "expected_base"),
    [
        ("```yaml\n  base_model: a/base\ngate_mode: hidden\nexperts:\n", "a/base"),
        ("```\nbase_model: a/base\n```yaml\nexperts:\n", "a/base"),
        ("Config here:```yaml\nbase_model: a/base\nexperts:\n", "a/base"),
    ],
)
def test_a_broken_fence_keeps_the_moe_base(fence: str, expected_base: str) -> None:
    body = fence + "  - source_model: a/x\n  - source_model: a/y\n```\n"
    recipe, _ = card_recipe(body, [])
    assert recipe is not None
    assert (recipe.final.relation, recipe.base_model) == ("moe", expected_base)


# ------------------------------------------------------------------ quoted recipes


def test_training_evidence_and_a_recipe_that_describes_the_base() -> None:
    fm, _ = read_front_matter("---\nbase_model: a/merged\ntags: [dpo]\n---\n", [])
    assert training_evidence(fm, []) == "tagged dpo"
    plain, _ = read_front_matter("---\nbase_model: a/merged\n---\n", [])
    assert training_evidence(plain, ["a/merged를 추가 학습했습니다"]) is not None
    assert training_evidence(plain, ["A merge of a/merged and a/other."]) is None
    assert describes_the_base({"a/x", "a/y"}, ["a/merged"], True)
    assert not describes_the_base({"a/merged", "a/y"}, ["a/merged"], True)
    assert not describes_the_base({"./local"}, ["a/merged"], False)


def test_a_merge_card_with_training_tags_stays_a_merge() -> None:
    card = (
        "---\nbase_model:\n- a/x-dpo\n- a/y\ntags: [dpo, merge]\n---\n"
        "```yaml\nmerge_method: slerp\nbase_model: a/x-dpo\nmodels:\n"
        "  - model: a/x-dpo\n  - model: a/y\nparameters:\n  t: 0.5\n```\n"
    )
    out = parse_card(card)
    assert (out.relation, out.parents) == ("merge", ["a/x-dpo", "a/y"])


# ------------------------------------------------------------------ front matter


def test_broken_front_matter_keeps_its_simple_keys() -> None:
    text = "base_model: a/b\nbase_model_relation: adapter\ntags:\n\t- lora\nmodel-index:\n - x: [\n"
    assert salvage_front_matter(text) == {
        "base_model": "a/b",
        "base_model_relation": "adapter",
        "tags": ["lora"],
    }


def test_hub_style_tags_declare_the_base_and_relation() -> None:
    warnings: list[str] = []
    fm, _ = read_front_matter("---\ntags:\n- base_model:adapter:a/b\n- chat\n---\n", warnings)
    assert (fm.base_models, fm.relation) == (["a/b"], "adapter")
    fm, _ = read_front_matter("---\nbase_model: c/d\ntags: ['base_model:a/b']\n---\n", warnings)
    assert (fm.base_models, fm.relation) == (["c/d"], None)


# ------------------------------------------------------------------ prose


def test_ids_glued_to_cjk_text_end_where_the_id_does() -> None:
    assert model_ids("a/X-7B와 b/Y-7B를 병합") == ["a/X-7B", "b/Y-7B"]
    assert model_ids("a/X-7B、b/Y-7B和c/Z") == ["a/X-7B", "b/Y-7B", "c/Z"]


def test_short_names_resolve_only_when_unique_and_model_like() -> None:
    names = ShortNames(["a/Beagle14-7B", "b/Mistral", "c/Twin-7B", "d/Twin-7B"])
    line = ProseLine("A merge of Beagle14-7B, Mistral and Twin-7B.", names)
    assert line.ids == ["a/Beagle14-7B"]
    assert not ShortNames(["a/plain"])


def test_sentences_join_wrapped_lines_and_cut_at_sentence_ends() -> None:
    got = sentences(["Built from", "a/x-7B. It is", "small.", "", "- a/y", "## H"])
    assert got == ["Built from a/x-7B.", "It is small.", "", "- a/y", "## H"]


@pytest.mark.parametrize(
    ("text", "relation", "models", "method", "base"),
    [
        (
            "Layers of a/p-7B and b/q-7B were interleaved.",
            "merge",
            ["a/p-7B", "b/q-7B"],
            "passthrough",
            None,
        ),
        (
            "I merged with TIES on top of a/base:\n1. a/x-7B\n2. b/y-7B",
            "merge",
            ["a/x-7B", "b/y-7B"],
            "ties",
            "a/base",
        ),
        ("A merge of a/x and b/y, using c/z as the base.", "merge", ["a/x", "b/y"], None, "c/z"),
        ("A MoE made of four copies of a/k-7B.", "moe", ["a/k-7B"], "moe", None),
        ("Unlike MoE models, a/k-7B is dense.", None, [], None, None),
        ("Depth up-scaling of\na/k-7B to 48 layers.", "merge", ["a/k-7B"], "passthrough", None),
    ],
)
def test_prose_forms(
    text: str, relation: str | None, models: list[str], method: str | None, base: str | None
) -> None:
    facts = read_prose_forms(text.split("\n"))
    assert (facts.relation, facts.models, facts.method, facts.base) == (
        relation,
        models,
        method,
        base,
    )


# ------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(
    "text",
    [
        "~~~\n```\n" * (MAX_CARD_CHARS // 8),
        "```\n" + "```yaml\nmerge_method: x\n" * (MAX_CARD_CHARS // 24),
        "{\n" * (MAX_CARD_CHARS // 2),
        "x = {'merge_method': 'a', 'models': [\n" * (MAX_CARD_CHARS // 40),
        "text```yaml\nmerge_method: a\n" * (MAX_CARD_CHARS // 27),
        "so slices:\n" * (MAX_CARD_CHARS // 11),
        "```yaml\n" + "experts:\n\t- source_model: a/b\n" * (MAX_CARD_CHARS // 35),
        "slices:\n" + "- model: a/b\nlayer_range: [0, 1]\n" * (MAX_CARD_CHARS // 34),
        "---\nbase_model: [a/Alpha-7B]\n---\n" + "A merge of Alpha-7B and x.\n" * 40_000,
        "merged " + "org/a-1, " * (MAX_CARD_CHARS // 10),
    ],
    ids=[
        "fence-alternation",
        "lang-fences-in-a-block",
        "open-braces",
        "dict-lines",
        "glued-fences",
        "glued-slices",
        "tabs",
        "flattened",
        "short-names",
        "one-huge-line",
    ],
)
def test_hostile_cards_of_the_new_shapes_parse_fast(text: str) -> None:
    start = time.perf_counter()
    parse_card(text)
    assert time.perf_counter() - start < 10.0
