"""A small, fully known genealogy written through the store functions.

found/base-7b (apache-2.0)
├── nc-lab/chat-nc   finetune, cc-by-nc-4.0
├── open/sft         finetune, mit
└── anon/no-license  finetune, no license
merger/merge-x  dare_ties of chat-nc + sft + no-license on base; apache-2.0; evaluations;
                edge kinship measured for chat-nc (cs 0.8) and sft (cs 0.3)
merger/merge-y  slerp of merge-x + open/sft; apache-2.0
quant/merge-x-gguf  quantized merge-x
merger/hostile  a merge whose recipe names an unresolved reference full of markup, with
                a hostile license string and recipe text
"""

from __future__ import annotations

from kinhub.db.engine import Database
from kinhub.db.kinship_store import kinship_key, save_kinship
from kinhub.db.records import EdgeRecord, EvaluationRecord, ModelRecord, RecipeRecord
from kinhub.db.store import upsert_model

BASE = "found/base-7b"
NC = "nc-lab/chat-nc"
SFT = "open/sft"
ANON = "anon/no-license"
MERGE_X = "merger/merge-x"
MERGE_Y = "merger/merge-y"
QUANT = "quant/merge-x-gguf"
HOSTILE = "merger/hostile"
# An unresolved reference (not a Hub id): kept as text, so it can hold anything.
HOSTILE_REF = "</script><script>window.__pwned=1</script>\"'><img src=x onerror=window.__pwned=2>"
HOSTILE_LICENSE = '"><script>window.__pwned=3</script>'
HOSTILE_RECIPE = (
    "models:\n  - model: </script><script>window.__pwned=4</script>\n"
    "merge_method: slerp\n# \"quotes\" & 'apostrophes' <b>bold</b>\n"
)
RESOLVED_IDS = (BASE, NC, SFT, ANON, MERGE_X, MERGE_Y, QUANT, HOSTILE)

MERGE_X_RECIPE = f"""models:
  - model: {NC}
    parameters: {{density: 0.5, weight: 0.6}}
  - model: {SFT}
    parameters: {{density: 0.4, weight: 0.3}}
  - model: {ANON}
    parameters: {{density: 0.4, weight: 0.1}}
merge_method: dare_ties
base_model: {BASE}
dtype: bfloat16
"""


def _finetune(repo_id: str, license_id: str | None, downloads: int) -> ModelRecord:
    return ModelRecord(
        repo_id=repo_id,
        sha="1" * 40,
        license=license_id,
        downloads=downloads,
        likes=3,
        num_parameters=1_100_000_000,  # < 2**31: the column is INTEGER on PostgreSQL
        model_type="llama",
        architectures=["LlamaForCausalLM"],
        edges=[EdgeRecord(parent=BASE, relation="finetune", role="parent", source="card_metadata")],
    )


def _merge_edge(parent: str, role: str, **parameters: float) -> list[EdgeRecord]:
    return [
        EdgeRecord(
            parent=parent,
            relation="merge",
            role=role,  # type: ignore[arg-type]
            source="mergekit_config",
            parameters=dict(parameters),
        ),
        EdgeRecord(parent=parent, relation="merge", role="parent", source="hub_tag"),
    ]


def family_records() -> list[ModelRecord]:
    return [
        ModelRecord(
            repo_id=BASE,
            sha="0" * 40,
            license="apache-2.0",
            downloads=100_000,
            likes=900,
            num_parameters=1_100_000_000,  # < 2**31: the column is INTEGER on PostgreSQL
            model_type="llama",
            architectures=["LlamaForCausalLM"],
        ),
        _finetune(NC, "cc-by-nc-4.0", 5_000),
        _finetune(SFT, "mit", 40),
        _finetune(ANON, None, 700),
        ModelRecord(
            repo_id=MERGE_X,
            sha="2" * 40,
            license="apache-2.0",
            downloads=2_000,
            likes=12,
            num_parameters=1_100_000_000,  # < 2**31: the column is INTEGER on PostgreSQL
            edges=[
                *_merge_edge(BASE, "base"),
                *_merge_edge(NC, "ingredient", density=0.5, weight=0.6),
                *_merge_edge(SFT, "ingredient", density=0.4, weight=0.3),
                *_merge_edge(ANON, "ingredient", density=0.4, weight=0.1),
            ],
            recipes=[
                RecipeRecord(
                    source="mergekit_config",
                    merge_method="dare_ties",
                    base_model=BASE,
                    dtype="bfloat16",
                    raw_text=MERGE_X_RECIPE,
                )
            ],
            evaluations=[
                EvaluationRecord(task="text-generation", dataset="ARC", metric="acc", value=60.0),
                EvaluationRecord(task="text-generation", dataset="MMLU", metric="acc", value=70.0),
            ],
        ),
        ModelRecord(
            repo_id=MERGE_Y,
            sha="3" * 40,
            license="apache-2.0",
            downloads=900,
            edges=[*_merge_edge(MERGE_X, "ingredient"), *_merge_edge(SFT, "ingredient")],
            recipes=[
                RecipeRecord(
                    source="mergekit_config", merge_method="slerp", base_model=MERGE_X, raw_text=""
                )
            ],
        ),
        ModelRecord(
            repo_id=QUANT,
            sha="4" * 40,
            license="apache-2.0",
            downloads=30_000,
            edges=[
                EdgeRecord(parent=MERGE_X, relation="quantized", role="parent", source="hub_tag")
            ],
        ),
        ModelRecord(
            repo_id=HOSTILE,
            sha="5" * 40,
            license=HOSTILE_LICENSE,
            downloads=10,
            edges=[
                EdgeRecord(
                    parent=HOSTILE_REF,
                    parent_resolved=False,
                    relation="merge",
                    role="ingredient",
                    source="card_recipe",
                ),
                *_merge_edge(MERGE_X, "ingredient"),
            ],
            recipes=[
                RecipeRecord(
                    source="card_recipe",
                    merge_method="slerp",
                    base_model=MERGE_X,
                    raw_text=HOSTILE_RECIPE,
                )
            ],
        ),
    ]


# Edge kinship of merge-x against two of its ingredients (edge jobs' results).
EDGE_KINSHIP = {NC: (0.8, 0.79, 1.5), SFT: (0.3, 0.29, 3.25)}


def write_family(database: Database) -> None:
    with database.session() as session:
        for record in family_records():
            upsert_model(session, record)
        for parent, (cs, pcc, ed) in EDGE_KINSHIP.items():
            key = kinship_key(
                a=MERGE_X, b=parent, base=BASE, fingerprints={}, mode="exact", convention="native"
            )
            save_kinship(
                session,
                key=key,
                a=MERGE_X,
                b=parent,
                base=BASE,
                revisions={},
                mode="exact",
                convention="native",
                metrics={"cs": cs, "pcc": pcc, "ed": ed},
                params_compared=1000,
                bytes_read=8000,
                seconds=0.5,
            )
