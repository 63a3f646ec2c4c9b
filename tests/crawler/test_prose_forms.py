"""Genealogy told in prose and files: card_prose evidence, adapters, partial recipes,
Python-tagged YAML, and how prose facts reach a stored database (reparse)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kinhub.crawler import version
from kinhub.crawler.facts import CardFacts, model_facts
from kinhub.crawler.fragments import join_split_documents, read_fragment
from kinhub.crawler.parse import parse_card
from kinhub.crawler.prose_forms import model_ids, read_prose_forms
from kinhub.crawler.reparse import reparse
from kinhub.crawler.result import weights_kind
from kinhub.crawler.yamlsafe import load_yaml
from kinhub.db.answers.lineage import lineage_sql
from kinhub.db.engine import Database
from kinhub.db.jobs.plan import plan_jobs
from kinhub.db.models import Edge, Model, Recipe
from kinhub.db.records import EdgeRecord, ModelRecord, RecipeRecord, SourceTexts
from kinhub.db.store import upsert_model
from sqlmodel import select

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _card(name: str) -> str:
    return (FIXTURES / "cards" / name).read_text(encoding="utf-8")


def _prose(facts: CardFacts) -> set[tuple[str, str, str]]:
    return {(e.parent, e.relation, e.role) for e in facts.edges if e.source == "card_prose"}


# ------------------------------------------------------------------ adapters and files

LORA_CARD = (
    "# owl-lora\n\nA LoRA adapter for [forest/Owl-7B](https://huggingface.co/forest/Owl-7B).\n"
)
QLORA_TAGGED = "---\nbase_model: forest/Owl-7B\ntags:\n- qlora\n---\n# Owl-7B-Tuned\n"


@pytest.mark.parametrize(
    ("files", "want"),
    [
        (None, None),
        ([], None),
        (["README.md", "adapter_config.json", "adapter_model.safetensors"], "adapter"),
        (["sub/dir/adapter_config.json"], "adapter"),
        (["model-00001-of-00002.safetensors", "config.json", "training_args.bin"], "full"),
        (["pytorch_model.bin"], "full"),
        (["owl.Q4_K_M.gguf", "training_args.bin"], None),
    ],
)
def test_weights_kind_from_file_names(files: list[str] | None, want: str | None) -> None:
    assert weights_kind(files) == want


def test_adapter_wording_follows_the_weights() -> None:
    # Without a file list the wording decides; with one, the files do.
    assert parse_card(LORA_CARD).relation == "adapter"
    full = parse_card(LORA_CARD, files=["model.safetensors", "config.json"])
    assert full.relation == "finetune"
    adapter = parse_card(LORA_CARD, files=["adapter_config.json", "adapter_model.safetensors"])
    assert (adapter.relation, adapter.weights) == ("adapter", "adapter")
    # A qlora tag on full weights is a fine-tune; an adapter_config.json makes any
    # single-base card an adapter, library_name or not.
    assert parse_card(QLORA_TAGGED).relation == "adapter"
    assert parse_card(QLORA_TAGGED, files=["model.safetensors"]).relation == "finetune"
    plain = "---\nbase_model: forest/Owl-7B\n---\n# x\n"
    assert parse_card(plain).relation == "finetune"
    assert parse_card(plain, files=["adapter_config.json"]).relation == "adapter"


def test_model_facts_passes_files_to_the_card() -> None:
    facts = model_facts(
        card_text=LORA_CARD, config_text=None, files=["adapter_config.json", "README.md"]
    )
    assert _prose(facts) == {("forest/Owl-7B", "adapter", "parent")}
    full = model_facts(card_text=LORA_CARD, config_text=None, files=["model.safetensors"])
    assert _prose(full) == {("forest/Owl-7B", "finetune", "parent")}
    assert facts.recipes == []  # a parent named in prose is no recipe


# ------------------------------------------------------------------ prose facts → edges


def test_prose_merge_edges_keep_their_source_and_evidence() -> None:
    facts = model_facts(card_text=_card("prose_ingredients_list.md"), config_text=None)
    assert _prose(facts) == {
        ("kitchen/Broth-13B", "merge", "base"),
        ("kitchen/Carrot-13B", "merge", "ingredient"),
        ("kitchen/Onion-13B", "merge", "ingredient"),
        ("garden/Leek-13B", "merge", "ingredient"),
    }
    assert {e.source for e in facts.edges} == {"card_prose"}
    (recipe,) = facts.recipes
    assert recipe.source == "card_prose"
    assert "kitchen/Carrot-13B" in recipe.raw_text and "Base model:" in recipe.raw_text


def test_prose_moe_and_self_merge_edges() -> None:
    moe = model_facts(card_text=_card("prose_moe_experts.md"), config_text=None)
    assert {(r, role) for _, r, role in _prose(moe)} == {("moe", "expert")}
    assert len(_prose(moe)) == 4
    stacked = model_facts(card_text=_card("prose_upscaled.md"), config_text=None)
    assert _prose(stacked) == {("stack/Floor-7B", "merge", "slice")}
    assert stacked.recipes[0].merge_method == "passthrough"


def test_yaml_moe_of_one_model_stays_a_moe_with_one_parent() -> None:
    config = (FIXTURES / "configs" / "self_merge_moe.yml").read_text(encoding="utf-8")
    facts = model_facts(card_text=None, config_text=config)
    assert {(e.parent, e.relation, e.role) for e in facts.edges} == {
        ("clone/Echo-7B", "moe", "expert")
    }


def test_base_model_only_in_the_body() -> None:
    facts = model_facts(card_text=_card("base_model_section.md"), config_text=None)
    assert [(e.parent, e.relation, e.role, e.source) for e in facts.edges] == [
        ("birds/Sparrow-3B", "finetune", "parent", "card_prose")
    ]
    # Declared in the front matter too: no second, weaker edge.
    declared = model_facts(card_text=_card("prose_no_false_positive.md"), config_text=None)
    assert {e.source for e in declared.edges} == {"card_metadata"}


def test_a_recipe_outranks_prose_naming_other_models() -> None:
    card = (
        "# M\n\nM is a merge of other/One-7B and other/Two-7B.\n\n```yaml\n"
        "merge_method: slerp\nbase_model: real/A-7B\nmodels:\n"
        "  - model: real/A-7B\n  - model: real/B-7B\nparameters:\n  t: 0.5\n```\n"
    )
    facts = model_facts(card_text=card, config_text=None)
    assert "card_prose" not in {e.source for e in facts.edges}
    assert {e.parent for e in facts.edges} == {"real/A-7B", "real/B-7B"}


@pytest.mark.parametrize(
    ("line", "ids"),
    [
        ("[org/m](https://huggingface.co/org/m/tree/main) and org2/n", ["org/m", "org2/n"]),
        ("data: [org/d](https://huggingface.co/datasets/org/d)", []),
        ("https://huggingface.co/spaces/org/app and https://hf.co/org/x", ["org/x"]),
        ("code: [org/tool](https://github.com/org/tool), cg123/mergekit", []),
        ("a path ./models/org/m and /home/u/org/m and user@host/x", []),
        ("version 1/2 or 50/50 blend of a/b and 01-ai/Yi-6B", ["a/b", "01-ai/Yi-6B"]),
    ],
)
def test_model_ids_in_a_line(line: str, ids: list[str]) -> None:
    assert model_ids(line) == ids


@pytest.mark.parametrize(
    ("text", "relation", "models", "base"),
    [
        ("org/Self-7B is a merge of org/a and org/b.", "merge", ["org/a", "org/b"], None),
        (
            "Dieses Modell ist eine Zusammenführung von wald/A-7B und wald/B-7B.",
            "merge",
            ["wald/A-7B", "wald/B-7B"],
            None,
        ),
        (
            "이 모델은 hanbit/A-7B 와 dal/B-7B 를 병합한 모델입니다.",
            "merge",
            ["hanbit/A-7B", "dal/B-7B"],
            None,
        ),
        (
            "# Mirror\n\nA self-merge of glass/Pane-13B with itself.",
            "merge",
            ["glass/Pane-13B"],
            None,
        ),
        ("## 기반 모델\n\nhanbit/Base-7B 를 미세 조정했습니다.", "finetune", [], "hanbit/Base-7B"),
        ("基础模型：qing/Base-7B", "finetune", [], "qing/Base-7B"),
        (
            "## 合并的模型\n\n- qing/A-7B\n- qing/B-7B\n\n## 评测",
            "merge",
            ["qing/A-7B", "qing/B-7B"],
            None,
        ),
        ("## 专家\n\n- qing/A-7B\n- qing/B-7B", "moe", ["qing/A-7B", "qing/B-7B"], None),
        ("## Quellmodelle\n\n* wald/A-7B\n* wald/B-7B", "merge", ["wald/A-7B", "wald/B-7B"], None),
        ("Basismodell: wald/Stamm-7B", "finetune", [], "wald/Stamm-7B"),
        ("A QLoRA adapter trained on top of org/base for chat.", "adapter", [], "org/base"),
        (
            "The following models were merged:\n- Base model: org/base\n- org/a\n- org/b",
            "merge",
            ["org/a", "org/b"],
            "org/base",
        ),
        (
            "Unlike a MoE, it is dense.\nA SLERP merge of org/a and org/b.",
            "merge",
            ["org/a", "org/b"],
            None,
        ),
        ("A MoE of org/a and org/b.", "moe", ["org/a", "org/b"], None),
        (
            "Unlike MoE models it is dense.\n\n## Models used\n- org/a\n- org/b",
            "merge",
            ["org/a", "org/b"],
            None,
        ),
        # Words inside an id are not wording: the card's own title is no self-merge.
        ("# acme/Model-11B-upscaled\n\nA chat model.", None, [], None),
        ("# acme/Merged-Model-7B\n\nBased on nothing in particular.", None, [], None),
    ],
)
def test_prose_forms_in_sentences(
    text: str, relation: str | None, models: list[str], base: str | None
) -> None:
    facts = read_prose_forms(text.split("\n"))
    assert (facts.relation, facts.models, facts.base) == (relation, models, base)


def test_prose_without_a_second_model_is_no_merge() -> None:
    for text in (
        "We merged the LoRA into org/base after training.",
        "## Merged models\n\n- org/only\n",
        "Thanks to org/a for the merge tools; see github for the code.",
    ):
        assert read_prose_forms(text.split("\n")).relation != "merge", text


# ------------------------------------------------------------------ partial recipes


def test_fragment_needs_items_and_a_method() -> None:
    notes: list[str] = []
    assert read_fragment("- model: a/b\n- model: c/d\n", notes) is None
    assert read_fragment("merge_method: ties\n", notes) is None
    assert read_fragment("- model: a/b\nmerge_method: ties\nmodels: []\n", notes) is None
    assert read_fragment("Some prose\n- model: a/b\nmerge_method: ties\n", notes) is None
    got = read_fragment("- model: a/b\n  layer_range: [0, 8]\nmerge_method: passthrough\n", notes)
    assert got == {
        "merge_method": "passthrough",
        "slices": [{"sources": [{"model": "a/b", "layer_range": [0, 8]}]}],
    }


def test_only_complementary_neighbours_are_joined() -> None:
    notes: list[str] = []
    whole = {"merge_method": "ties", "models": [{"model": "a/b"}]}
    other = {"merge_method": "slerp", "models": [{"model": "c/d"}]}
    assert join_split_documents([whole, other], notes) == [whole, other]
    assert join_split_documents([{"models": [{"model": "a/b"}]}, {"dtype": "x"}], notes) == [
        {"models": [{"model": "a/b"}]},
        {"dtype": "x"},
    ]
    items = [{"model": "a/b"}]
    assert join_split_documents([items, {"merge_method": "ties"}], notes) == [
        {"models": items, "merge_method": "ties"}
    ]
    assert join_split_documents([items], notes) == []  # items joining nothing are dropped


# ------------------------------------------------------------------ Python-tagged YAML


def test_python_tags_are_read_as_data_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        f"b: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n"
        "c: !!python/name:os.system ''\n"
        "d: !!python/object:collections.Counter {x: 1}\n"
        "e: !!python/tuple [1, 2]\n"
    )
    data, notes = load_yaml(text)
    assert not marker.exists()
    assert data == {
        "a": [f"touch {marker}"],
        "b": [["touch", str(marker)]],
        "c": "",
        "d": {"x": 1},
        "e": [1, 2],
    }
    assert "tags read as plain data" in notes[0]
    # The plain-data loader is a subclass: PyYAML's own SafeLoader still refuses tags.
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("!!python/tuple [1, 2]")


def test_ordered_dict_dumps_become_mappings() -> None:
    from collections import OrderedDict

    dumped = yaml.dump(
        {"x": OrderedDict([("merge_method", "ties"), ("range", (0, 8))])}, Dumper=yaml.Dumper
    )
    data, _ = load_yaml(dumped)
    assert data == {"x": {"merge_method": "ties", "range": [0, 8]}}


# ------------------------------------------------------------------ database


def _edges(database: Database) -> set[tuple[str, str, str, str, str]]:
    with database.session() as session:
        name = {m.id: m.repo_id for m in session.exec(select(Model))}
        return {
            (name[e.child_id], name[e.parent_id], e.relation, e.role, e.source)
            for e in session.exec(select(Edge))
        }


def test_prose_evidence_ranks_below_the_recipe(database: Database) -> None:
    child = "org/child"
    edges = [
        EdgeRecord("org/a", "merge", "ingredient", "card_prose"),
        EdgeRecord("org/a", "merge", "ingredient", "mergekit_config", parameters={"weight": 0.7}),
        EdgeRecord("org/b", "merge", "ingredient", "mergekit_config", parameters={"weight": 0.3}),
        EdgeRecord("org/base", "merge", "base", "mergekit_config"),
    ]
    prose_only = [
        EdgeRecord("org/a", "merge", "ingredient", "card_prose"),
        EdgeRecord("org/b", "merge", "ingredient", "card_prose"),
    ]
    with database.session() as session:
        for repo in ("org/a", "org/b", "org/base"):
            upsert_model(session, ModelRecord(repo_id=repo, sha=repo[-1] * 40))
        upsert_model(
            session,
            ModelRecord(
                repo_id=child,
                sha="c" * 40,
                edges=edges,
                recipes=[
                    RecipeRecord("card_prose", "linear", None),
                    RecipeRecord("mergekit_config", "task_arithmetic", "org/base"),
                ],
            ),
        )
        upsert_model(session, ModelRecord(repo_id="org/prose", sha="d" * 40, edges=prose_only))
    with database.session() as session:
        lineage = lineage_sql(session, child)
        by_parent = {e.parent: e for e in lineage.edges}
        assert by_parent["org/a"].sources == ["card_prose", "mergekit_config"]
        assert by_parent["org/a"].parameters == {"weight": 0.7}
        assert by_parent["org/a"].method == "task_arithmetic"
        # Jobs follow recipe evidence only: a merge told only in prose plans none.
        plan = plan_jobs(session, children=[child, "org/prose"])
        assert plan.children == [child]


def test_reparse_brings_prose_edges_to_a_model_parsed_by_version_3(database: Database) -> None:
    card = _card("prose_korean.md")
    old = model_facts(card_text=card, config_text=None)
    assert _prose(old)  # what the current parser reads
    with database.session() as session:
        upsert_model(
            session,
            ModelRecord(
                repo_id="hanbit/Hanbit-10.7B",
                sha="e" * 40,
                # What parser version 3 stored for this card: nothing.
                texts=SourceTexts(card_text=card),
                parser_version=3,
            ),
        )
    assert _edges(database) == set()
    report = reparse(database)
    assert (report.examined, report.changed) == (1, 1)
    assert report.parser_version == version.PARSER_VERSION >= 4
    assert _edges(database) == {
        ("hanbit/Hanbit-10.7B", "hanbit/Sol-10.7B", "merge", "ingredient", "card_prose"),
        ("hanbit/Hanbit-10.7B", "dal-ai/Moon-10.7B", "merge", "ingredient", "card_prose"),
    }
    with database.session() as session:
        assert [r.source for r in session.exec(select(Recipe))] == ["card_prose"]
    again = reparse(database)
    assert (again.examined, again.changed) == (0, 0)
