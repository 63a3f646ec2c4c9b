"""model_facts: how cards, configs and Hub tags become edges, recipes and metadata."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from kinhub.crawler.facts import CardFacts, model_facts
from kinhub.db.records import EdgeRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _read(kind: str, name: str) -> str:
    return (FIXTURES / kind / name).read_text(encoding="utf-8")


def _edges(facts: CardFacts, source: str) -> dict[tuple[str, str], EdgeRecord]:
    return {(e.parent, e.role): e for e in facts.edges if e.source == source}


def _assert_serializable(facts: CardFacts) -> None:
    json.dumps(dataclasses.asdict(facts), allow_nan=False)


def test_mergekit_card_config_and_tags() -> None:
    card = _read("cards", "mergekit_dare_ties.md")
    config = card.split("```yaml\n", 1)[1].split("```", 1)[0]
    facts = model_facts(
        card_text=card,
        config_text=config,
        hub_tags=[
            "base_model:merge:example-org/Mistral-7B-Base",
            "base_model:example-org/Mistral-7B-Base",
            "base_model:acme/Hermes-Math-7B",
            "license:apache-2.0",
            "mergekit",
        ],
    )
    for source in ("mergekit_config", "card_recipe"):
        edges = _edges(facts, source)
        assert set(edges) == {
            ("example-org/Mistral-7B-Base", "base"),
            ("acme/Hermes-Math-7B", "ingredient"),
            ("acme/Story-Writer-7B", "ingredient"),
        }
        assert all(e.relation == "merge" and e.parent_resolved for e in edges.values())
        assert edges[("acme/Hermes-Math-7B", "ingredient")].parameters == {
            "density": 0.53,
            "weight": 0.4,
        }
        assert edges[("example-org/Mistral-7B-Base", "base")].parameters == {}
    metadata = _edges(facts, "card_metadata")
    assert set(metadata) == {
        ("example-org/Mistral-7B-Base", "parent"),
        ("acme/Hermes-Math-7B", "parent"),
        ("acme/Story-Writer-7B", "parent"),
    }
    assert {e.relation for e in metadata.values()} == {"merge"}
    hub = [(e.parent, e.relation, e.role) for e in facts.edges if e.source == "hub_tag"]
    assert hub == [
        ("example-org/Mistral-7B-Base", "merge", "parent"),
        ("acme/Hermes-Math-7B", "merge", "parent"),
    ]
    assert [r.source for r in facts.recipes] == ["mergekit_config", "card_recipe"]
    assert all(r.merge_method == "dare_ties" for r in facts.recipes)
    assert all(r.base_model == "example-org/Mistral-7B-Base" for r in facts.recipes)
    assert facts.recipes[0].dtype == "bfloat16"
    assert "merge_method: dare_ties" in facts.recipes[0].raw_text
    assert facts.license == "apache-2.0"  # from the license: hub tag (card has none)
    assert facts.tags[:2] == ["mergekit", "merge"]
    assert facts.library_name == "transformers"
    _assert_serializable(facts)


def test_multistage_config_edges_carry_stage_names() -> None:
    facts = model_facts(card_text=None, config_text=_read("configs", "multistage.yaml"))
    got = {(e.parent, e.role, e.stage, e.revision) for e in facts.edges}
    assert got == {
        ("acme/E-7B", "ingredient", None, None),
        ("acme/A-7B", "ingredient", "first-merge", None),  # slerp: an endpoint
        ("acme/B-7B", "ingredient", "first-merge", None),
        ("acme/Base-7B", "base", "second-merge", None),
        ("acme/C-7B", "ingredient", "second-merge", None),
        ("acme/D-7B", "ingredient", "second-merge", "v3"),
    }
    assert all(e.source == "mergekit_config" for e in facts.edges)
    (recipe,) = facts.recipes
    assert recipe.merge_method == "linear"
    assert [s["name"] for s in recipe.stages] == ["first-merge", "second-merge"]
    # a base that is also listed gives one edge, in the role the method gives it
    assert ("acme/A-7B", "base") not in {(e.parent, e.role) for e in facts.edges}


def test_stage_reference_as_base_gives_no_edge() -> None:
    facts = model_facts(card_text=_read("cards", "multidoc_in_card.md"), config_text=None)
    recipe_edges = [e for e in facts.edges if e.source == "card_recipe"]
    assert {e.parent for e in recipe_edges} == {
        "acme/Base-7B",
        "acme/Roleplay-7B",
        "acme/Reasoning-7B",
    }
    assert all(e.stage in ("stage-a", "stage-b") for e in recipe_edges)
    assert not any(e.parent.startswith("stage-") for e in facts.edges)


def test_moe_config_edges() -> None:
    facts = model_facts(
        card_text=None,
        config_text=_read("configs", "mergekit_moe_config.yml"),
        config_name="mergekit_moe_config.yml",
    )
    edges = _edges(facts, "mergekit_config")
    assert set(edges) == {
        ("mistralai/Mistral-7B-Instruct-v0.2", "expert"),  # the base is also an expert
        ("WizardLM/WizardMath-7B-V1.1", "expert"),
        ("codellama/CodeLlama-7b-Instruct-hf", "expert"),
    }
    assert {e.relation for e in edges.values()} == {"moe"}
    assert edges[("WizardLM/WizardMath-7B-V1.1", "expert")].parameters == {
        "positive_prompts": ["math"],
        "noise_scale": 0.01,
    }
    assert edges[("codellama/CodeLlama-7b-Instruct-hf", "expert")].revision == "main"
    assert facts.recipes[0].merge_method == "moe"


def test_unresolved_references_are_kept_verbatim() -> None:
    facts = model_facts(card_text=None, config_text=_read("configs", "local_paths.yml"))
    edges = {e.parent: e for e in facts.edges}
    for text in ("/abs/models/a", "./rel/b", "~/c", "D:/win path/d", "../up/e"):
        assert edges[text].parent_resolved is False
    assert edges["/abs/models/base"].role == "ingredient"  # linear merges its base
    assert edges["/abs/models/base"].parent_resolved is False
    assert edges["acme/Real-7B"].parent_resolved is True


def test_slices_fold_into_one_edge_per_parent() -> None:
    facts = model_facts(
        card_text=None, config_text=_read("configs", "passthrough_frankenmerge.yml")
    )
    edges = _edges(facts, "mergekit_config")
    assert set(edges) == {
        ("152334H/miqu-1-70b-sf", "slice"),
        ("lizpreciatior/lzlv_70b_fp16_hf", "slice"),
    }
    assert edges[("152334H/miqu-1-70b-sf", "slice")].parameters == {
        "layer_ranges": [[0, 20], [20, 40]]
    }


def test_lora_and_revision_are_kept() -> None:
    facts = model_facts(card_text=None, config_text=_read("configs", "revision_lora.yml"))
    edge = next(e for e in facts.edges if e.parent == "org/m")
    assert (edge.revision, edge.lora) == ("r1", "org/lora@r2")
    assert edge.parameters == {"weight": 1.0}


def test_dict_reference_lora() -> None:
    facts = model_facts(card_text=None, config_text=_read("configs", "dict_refs.yml"))
    edges = {e.parent: e for e in facts.edges}
    assert edges["acme/Chat-7B"].lora == "acme/style-lora@abc123"
    assert edges["acme/Chat-7B"].revision == "main"
    assert edges["acme/Base-7B"].role == "base"
    assert edges["acme/Base-7B"].revision == "v2.0"


def test_finetune_card_metadata_and_evaluations() -> None:
    facts = model_facts(card_text=_read("cards", "model_index.md"), config_text=None)
    assert [(e.parent, e.relation, e.role, e.source) for e in facts.edges] == [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "finetune", "parent", "card_metadata")
    ]
    assert facts.recipes == []
    assert [(v.dataset, v.metric, v.value) for v in facts.evaluations] == [
        ("AI2 Reasoning Challenge (25-Shot)", "acc_norm", 62.46),
        ("HellaSwag (10-Shot)", "acc_norm", 78.9),
        ("GSM8k (5-shot)", "acc", None),
    ]
    assert facts.license == "other"


def test_adapter_and_quantized_relations() -> None:
    adapter = model_facts(card_text=_read("cards", "adapter_peft.md"), config_text=None)
    assert [(e.relation, e.source) for e in adapter.edges] == [("adapter", "card_metadata")]
    quant = model_facts(
        card_text=_read("cards", "quantized_gguf.md"),
        config_text=None,
        hub_tags=["base_model:quantized:acme/Hermes-Story-DARE-7B"],
    )
    assert {(e.relation, e.source) for e in quant.edges} == {
        ("quantized", "card_metadata"),
        ("quantized", "hub_tag"),
    }


def test_prose_only_card_gives_prose_evidence_apart_from_recipes() -> None:
    facts = model_facts(card_text=_read("cards", "old_dare_ties_prose_only.md"), config_text=None)
    assert {e.source for e in facts.edges} == {"card_metadata", "card_prose"}
    assert {e.relation for e in facts.edges} == {"merge"}
    prose = {(e.parent, e.role) for e in facts.edges if e.source == "card_prose"}
    assert prose == {
        ("mistralai/Mistral-7B-v0.1", "base"),
        ("teknium/OpenHermes-2.5-Mistral-7B", "ingredient"),
        ("Intel/neural-chat-7b-v3-3", "ingredient"),
    }
    (recipe,) = facts.recipes
    assert recipe.source == "card_prose"
    assert recipe.merge_method == "dare_ties"
    assert recipe.base_model == "mistralai/Mistral-7B-v0.1"
    assert "merged using the" in recipe.raw_text  # the evidence lines are kept


def test_config_recipe_makes_prose_edges_redundant() -> None:
    facts = model_facts(
        card_text=_read("cards", "old_dare_ties_prose_only.md"),
        config_text=_read("configs", "dare_ties.yml"),
    )
    assert "card_prose" not in {e.source for e in facts.edges}
    assert [r.source for r in facts.recipes] == ["mergekit_config"]


def test_hub_tags_alone() -> None:
    one = model_facts(card_text=None, config_text=None, hub_tags=["base_model:org/a"])
    assert [(e.parent, e.relation, e.source) for e in one.edges] == [
        ("org/a", "finetune", "hub_tag")
    ]
    two = model_facts(
        card_text=None, config_text=None, hub_tags=["base_model:org/a", "base_model:org/b"]
    )
    assert [e.relation for e in two.edges] == ["merge", "merge"]
    typed = model_facts(
        card_text=None,
        config_text=None,
        hub_tags=["base_model:adapter:org/a", "base_model:not a valid id", "base_model:x:y:z"],
    )
    assert [(e.parent, e.relation) for e in typed.edges] == [("org/a", "adapter")]
    assert any("invalid model id" in w for w in typed.warnings)
    assert any("not understood" in w for w in typed.warnings)


def test_config_and_card_disagreement_is_kept_and_reported() -> None:
    card = _read("cards", "lazymergekit.md")  # slerp
    facts = model_facts(card_text=card, config_text=_read("configs", "model_stock.yaml"))
    assert {r.merge_method for r in facts.recipes} == {"slerp", "model_stock"}
    assert any("differs" in w for w in facts.warnings)


def test_yaml_types_are_json_serializable() -> None:
    facts = model_facts(card_text=None, config_text=_read("configs", "yaml_types.yml"))
    edge = next(e for e in facts.edges if e.parent == "acme/A-7B")
    assert edge.parameters["epsilon"] == "2024-01-15"
    assert edge.parameters["lambda"] == "inf"
    _assert_serializable(facts)


def test_warnings_are_prefixed_by_source() -> None:
    facts = model_facts(
        card_text=_read("cards", "no_front_matter.md"), config_text=_read("configs", "broken.yml")
    )
    assert any(w.startswith("card: ") and "no front matter" in w for w in facts.warnings)
    assert any(w.startswith("config: ") and "does not parse" in w for w in facts.warnings)
    assert [r.source for r in facts.recipes] == ["card_recipe"]
