"""Text templates for generated repos: merge recipes and model cards as tools write them.

mergekit's card layout (front matter from ``yaml.dump`` of ``base_model``,
``library_name`` and ``tags``; "Merge Details" sections; the recipe verbatim
in a yaml fence) and the LazyMergekit notebook's layout are reproduced here as
format facts so that genealogy parsers meet realistic input.  Recipes come in the
forms users write (SLERP with ``slices:`` or ``models:``, passthrough stacks,
``mergekit_moe_config.yml``), including hostile ones naming local paths.
"""

from __future__ import annotations

from collections.abc import Sequence

# Pretty names and reference links mergekit prints for each method.
METHOD_MD = {
    "linear": "[Linear](https://arxiv.org/abs/2203.05482)",
    "slerp": "[SLERP](https://en.wikipedia.org/wiki/Slerp)",
    "task_arithmetic": "[Task Arithmetic](https://arxiv.org/abs/2212.04089)",
    "ties": "[TIES](https://arxiv.org/abs/2306.01708)",
    "dare_ties": "[DARE TIES](https://arxiv.org/abs/2311.03099)",
    "model_stock": "[Model Stock](https://arxiv.org/abs/2403.19522)",
    "dare_linear": "linear [DARE](https://arxiv.org/abs/2311.03099)",
    "della": "[DELLA](https://arxiv.org/abs/2406.11617)",
    "breadcrumbs": "[Model Breadcrumbs](https://arxiv.org/abs/2312.06795)",
    "nuslerp": "NuSLERP",
    "passthrough": "Passthrough",
}
LAZY_URL = "https://colab.research.google.com/drive/1obulZ1ROXHjYLn6PPZJwRR6GzgQogxxb?usp=sharing"


def _yaml_list(key: str, values: Sequence[str]) -> str:
    """``yaml.dump`` output for a list of plain strings (ids need no quoting)."""
    if not values:
        return f"{key}: []\n"
    return f"{key}:\n" + "".join(f"- {v}\n" for v in values)


def hf_link(repo_id: str) -> str:
    return f"[{repo_id}](https://huggingface.co/{repo_id})"


def recipe(
    method: str,
    *,
    models: Sequence[str],
    base: str | None,
    params: Sequence[tuple[float, float]],
    layers: int,
) -> str:
    """A mergekit YAML config for ``method`` (the text a user would have written)."""
    if method == "slerp":
        a, b = models[0], models[1]
        return (
            "slices:\n"
            "  - sources:\n"
            f"      - model: {a}\n"
            f"        layer_range: [0, {layers}]\n"
            f"      - model: {b}\n"
            f"        layer_range: [0, {layers}]\n"
            "merge_method: slerp\n"
            f"base_model: {a}\n"
            "parameters:\n"
            "  t:\n"
            "    - filter: self_attn\n"
            "      value: [0, 0.5, 0.3, 0.7, 1]\n"
            "    - filter: mlp\n"
            "      value: [1, 0.5, 0.7, 0.3, 0]\n"
            "    - value: 0.5\n"
            "dtype: bfloat16\n"
        )
    if method == "passthrough":
        half = max(1, layers // 2)
        out = "slices:\n"
        for i, model in enumerate(models):
            lo, hi = (0, half + 1) if i % 2 == 0 else (half - 1, layers)
            out += f"  - sources:\n    - model: {model}\n      layer_range: [{lo}, {hi}]\n"
        return out + "merge_method: passthrough\ndtype: bfloat16\n"
    lines = ["models:"]
    if base is not None and method != "linear":
        lines += [f"  - model: {base}", "    # no parameters necessary for base model"]
    for model, (weight, density) in zip(models, params, strict=True):
        lines.append(f"  - model: {model}")
        if method == "model_stock":
            continue
        lines.append("    parameters:")
        if method in ("ties", "dare_ties"):
            lines.append(f"      density: {density}")
        lines.append(f"      weight: {weight}")
    lines.append(f"merge_method: {method}")
    if base is not None and method != "linear":
        lines.append(f"base_model: {base}")
    if method in ("ties", "dare_ties"):
        lines += ["parameters:", "  normalize: true" if method == "ties" else "  int8_mask: true"]
    lines.append("dtype: bfloat16" if method != "linear" else "dtype: float16")
    return "\n".join(lines) + "\n"


def slerp_models_recipe(a: str, b: str) -> str:
    """SLERP written with ``models:`` and a scalar ``t`` (the other common way)."""
    return (
        f"models:\n  - model: {a}\n  - model: {b}\n"
        f"merge_method: slerp\nbase_model: {a}\nparameters:\n  t: 0.4\ndtype: bfloat16\n"
    )


def plain_linear_recipe(models: Sequence[str]) -> str:
    """A ``linear`` recipe listing ``models`` verbatim, whatever they are (local paths,
    URLs): what a card-only recipe from an untrusted repo can hold."""
    lines = ["models:"]
    for model in models:
        lines += [f"  - model: {model}", "    parameters:", "      weight: 0.5"]
    return "\n".join([*lines, "merge_method: linear", "dtype: float16"]) + "\n"


def mergekit_card(
    name: str,
    *,
    method: str,
    models: Sequence[str],
    base: str | None,
    config_yaml: str,
    evaluations: str = "",
) -> str:
    """README.md exactly as mergekit's card generator lays it out (``evaluations``: a
    ``model-index`` block added to the front matter, as the leaderboard bot does)."""
    actual_base = None if method == "slerp" else base
    referenced = list(dict.fromkeys([*models, *([base] if base else [])]))
    metadata = _yaml_list("base_model", referenced) + "library_name: transformers\n"
    metadata += _yaml_list("tags", ["mergekit", "merge"]) + evaluations
    base_text = f" using {hf_link(actual_base)} as a base" if actual_base else ""
    bullets = "\n".join(f"* {hf_link(m)}" for m in referenced if m != actual_base)
    return (
        f"---\n{metadata}\n---\n# {name}\n\n"
        "This is a merge of pre-trained language models created using "
        "[mergekit](https://github.com/cg123/mergekit).\n\n"
        "## Merge Details\n### Merge Method\n\n"
        f"This model was merged using the {METHOD_MD[method]} merge method{base_text}.\n\n"
        "### Models Merged\n\n"
        f"The following models were included in the merge:\n{bullets}\n\n"
        "### Configuration\n\n"
        "The following YAML configuration was used to produce this model:\n\n"
        f"```yaml\n{config_yaml}\n```\n"
    )


def lazymergekit_card(
    repo_id: str,
    *,
    models: Sequence[str],
    base: str | None,
    config_yaml: str,
    evaluations: str = "",
) -> str:
    """README.md as the LazyMergekit notebook writes it (``evaluations``: as above)."""
    name = repo_id.split("/", 1)[1]
    listed = [m for m in models if m != base]
    bases = list(dict.fromkeys([*([base] if base else []), *listed]))
    metadata = _yaml_list("base_model", bases)
    metadata += _yaml_list("tags", ["merge", "mergekit", "lazymergekit", *listed])
    metadata += evaluations
    bullets = "\n".join(f"* {hf_link(m)}" for m in listed)
    return (
        f"---\n{metadata}---\n\n# {name}\n\n"
        f"{name} is a merge of the following models using [LazyMergekit]({LAZY_URL}):\n"
        f"{bullets}\n\n## 🧩 Configuration\n\n```yaml\n{config_yaml}```\n\n"
        "## 💻 Usage\n\n```python\n!pip install -qU transformers accelerate\n\n"
        "from transformers import AutoTokenizer\nimport transformers\nimport torch\n\n"
        f'model = "{repo_id}"\nmessages = [{{"role": "user", "content": "What is a large '
        'language model?"}]\n\ntokenizer = AutoTokenizer.from_pretrained(model)\n'
        "prompt = tokenizer.apply_chat_template(messages, tokenize=False, "
        "add_generation_prompt=True)\n```\n"
    )


def moe_recipe(*, base: str, experts: Sequence[str]) -> str:
    """A ``mergekit_moe_config.yml``."""
    prompts = ["chat", "code", "math", "reasoning", "story"]
    out = (
        f"base_model: {base}\ngate_mode: hidden\ndtype: bfloat16\nexperts_per_token: 2\nexperts:\n"
    )
    for i, expert in enumerate(experts):
        out += (
            f"  - source_model: {expert}\n    positive_prompts:\n"
            f'      - "{prompts[i % len(prompts)]}"\n'
        )
    return out


def finetune_card(
    name: str, *, base: str, declare_relation: bool, license_: str, evaluations: str = ""
) -> str:
    relation = "base_model_relation: finetune\n" if declare_relation else ""
    return (
        f"---\nbase_model: {base}\n{relation}library_name: transformers\n"
        f"license: {license_}\ntags:\n- trl\n- sft\ndatasets:\n- synthetic/instructions\n"
        f"{evaluations}---\n\n"
        f"# {name}\n\nThis model is a fine-tuned version of {hf_link(base)}.\n"
    )


def adapter_card(name: str, *, base: str) -> str:
    return (
        f"---\nbase_model: {base}\nlibrary_name: peft\ntags:\n- lora\n---\n\n"
        f"# {name}\n\nA LoRA adapter for {hf_link(base)}.\n"
    )


def quantized_card(name: str, *, base: str, declare_relation: bool) -> str:
    relation = "base_model_relation: quantized\n" if declare_relation else ""
    return (
        f"---\nbase_model: {base}\n{relation}tags:\n- gguf\n- quantized\n---\n\n"
        f"# {name}\n\nGGUF quantization of {hf_link(base)}.\n"
    )


def foundation_card(name: str, *, evaluations: str = "") -> str:
    return (
        "---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-generation\n"
        f"language:\n- en\n{evaluations}---\n\n# {name}\n\nA pretrained foundation model.\n"
    )


def broken_card(name: str, *, base: str, kind: str) -> str:
    """A card whose front matter cannot be read: ``unclosed`` or ``bad-yaml``."""
    if kind == "unclosed":
        return f"---\nbase_model: {base}\ntags:\n- merge\n\n# {name}\n\nMerged with care.\n"
    return f"---\nbase_model: [{base}\ntags: {{merge: [\n---\n\n# {name}\n\nOops.\n"
