"""``kinhub parse``: print what kinhub reads from model cards and merge configs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from kinhub.cli.common import Command, handle_errors, print_json
from kinhub.crawler.names import TextKind

# ``--kind``: the parser's text kinds, or ``auto`` (the parser tells them apart by name).
KindOption = Literal["auto", TextKind]

PARSE_HELP = """\
Parse model cards (README.md) and merge configs (mergekit_config.yml) offline,
and print what kinhub reads from them as JSON.

One JSON object per file; a JSON array when several files are given. Card or
config is chosen by file name (`*.md` card, `*.yml`/`*.yaml` config), else by
content; `--kind` overrides it. A file named twice (same resolved path) is parsed once,
at its first mention. Nothing is fetched or stored.

Output fields:

* `file`: the path as given
* `kind`: card \\| config
* `relation`: merge \\| moe \\| finetune \\| adapter \\| quantized \\| null; from the recipe,
  else base_model_relation, else inferred (several base models, or a merge told in
  prose: merge; one: finetune, or adapter when the files, library or tags say so,
  quantized when tagged so)
* `merge_method`: mergekit method name (`moe` for mergekit-moe); for a card without
  YAML, from "merged using the X merge method"
* `base_model`: the recipe's base (revision split off); for a fine-tune, adapter or
  quantization, its origin
* `parents`: merge inputs in file order, de-duplicated, with @revision and +lora split
  off; the base only when it is itself listed as an input
* `inputs`: final-stage inputs: model, revision, lora, lora_revision, role (base \\|
  ingredient \\| slice \\| expert), parameters, layer_range, resolved
* `stages`: earlier stages of a multi-stage recipe: name, merge_method, relation, shape,
  base_model, base_stage, parents, stage_refs, inputs, dtype, tokenizer_source,
  parameters
* `stage_name`: the final stage's name (null when unnamed)
* `base_stage`: earlier stage used as the final stage's base
* `stage_refs`: earlier stages merged by the final stage
* `recipe_origin`: yaml \\| prose (told only in the card's prose) \\| null
* `recipe_shape`: models \\| slices \\| modules \\| moe \\| evolve \\| mlx
* `parameters`: top-level parameters of the final stage
* `dtype`: dtype (or out_dtype) of the final stage
* `tokenizer_source`: tokenizer source of the final stage
* `declared_base_models`: front-matter base_model entries
* `base_model_relation`: front-matter base_model_relation
* `front_matter`: start \\| unclosed \\| end \\| null (where it was found)
* `evaluations`: model-index scores: task, dataset, metric, value, source_name
* `license`: front-matter license
* `tags`: front-matter tags
* `library_name`: front-matter library_name
* `pipeline_tag`: front-matter pipeline_tag
* `prose_evidence`: the card lines a merge, MoE, self-merge or base model was read from
  when the card has no YAML recipe (stored as `card_prose` evidence)
* `weights`: adapter \\| full \\| null, from the repo's file names when given
* `warnings`: everything that could not be read cleanly

References that are not org/name Hub ids (local paths, short names) keep
`"resolved": false` and are never used as paths. A file that cannot be read is
an error (exit code 1).
"""


def distinct_paths(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats of one file (same resolved path), first mention kept."""
    seen: set[Path] = set()
    kept = []
    for path in paths:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            kept.append(path)
    return kept


def parse_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH...", help="Card or config files to parse.", show_default=False
        ),
    ],
    kind: Annotated[
        KindOption, typer.Option("--kind", help="Treat every file as a card or a config.")
    ] = "auto",
) -> None:
    from kinhub.crawler.parse import parse_file

    text_kind = None if kind == "auto" else kind
    with handle_errors():
        results = [parse_file(path, kind=text_kind).to_json() for path in distinct_paths(paths)]
    print_json(results[0] if len(results) == 1 else results)


def register(app: typer.Typer) -> None:
    """Add ``parse`` to the root application."""
    app.command(
        "parse", help=PARSE_HELP, short_help="Parse cards and merge configs to JSON.", cls=Command
    )(parse_command)
