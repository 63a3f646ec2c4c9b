"""Reference parsing and merge-method name normalization, case by case."""

from __future__ import annotations

import pytest
from kinhub.crawler.prose import normalize_method, read_prose
from kinhub.crawler.refs import ModelRef, parse_ref

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("org/name", ModelRef("org/name")),
        ("  org/name  ", ModelRef("org/name")),
        ("org/name@v1.0", ModelRef("org/name", revision="v1.0")),
        ("org/name@refs/pr/7", ModelRef("org/name", revision="refs/pr/7")),
        (
            "org/m@r1+org/lora@r2",
            ModelRef("org/m", revision="r1", lora="org/lora", lora_revision="r2"),
        ),
        ("org/m+org/lora", ModelRef("org/m", lora="org/lora")),
        ("/abs/path/model", ModelRef("/abs/path/model", resolved=False)),
        ("./rel/model", ModelRef("./rel/model", resolved=False)),
        ("~/x", ModelRef("~/x", resolved=False)),
        ("D:/win path/model", ModelRef("D:/win path/model", resolved=False)),
        ("C:\\models\\m", ModelRef("C:\\models\\m", resolved=False)),
        ("/content/drive/MyDrive/m", ModelRef("/content/drive/MyDrive/m", resolved=False)),
        ("shortname", ModelRef("shortname", resolved=False)),
        ("org_name", ModelRef("org_name", resolved=False)),
        ("org/../etc", ModelRef("org/../etc", resolved=False)),
        (
            f"/home/u/.cache/huggingface/hub/models--org--my-model/snapshots/{SHA}",
            ModelRef("org/my-model", revision=SHA),
        ),
        (f"models--org--my-model/snapshots/{SHA}/", ModelRef("org/my-model", revision=SHA)),
        ("/data/models--org--m", ModelRef("org/m")),
        ("https://huggingface.co/org/m", ModelRef("org/m")),
        ("https://huggingface.co/org/m/tree/dev", ModelRef("org/m", revision="dev")),
        ("/path/with@sign/model", ModelRef("/path/with@sign/model", resolved=False)),
        ({"model": {"path": "org/m", "revision": "r"}}, ModelRef("org/m", revision="r")),
        ({"path": "org/m"}, ModelRef("org/m")),
        (
            {"model": "org/m", "lora": {"path": "org/l", "revision": "x"}},
            ModelRef("org/m", lora="org/l", lora_revision="x"),
        ),
        ({"model": {"path": "org/m"}, "lora": None}, ModelRef("org/m")),
    ],
)
def test_parse_ref(value: object, expected: ModelRef) -> None:
    warnings: list[str] = []
    assert parse_ref(value, warnings) == expected


@pytest.mark.parametrize("value", [None, "", "   ", 12, ["org/m"], {"revision": "x"}])
def test_parse_ref_nothing(value: object) -> None:
    assert parse_ref(value, []) is None


def test_invalid_revision_is_dropped_with_warning() -> None:
    warnings: list[str] = []
    assert parse_ref("org/m@bad..rev", warnings) == ModelRef("org/m")
    assert warnings and "invalid revision" in warnings[0]


def test_overlong_reference_is_truncated() -> None:
    warnings: list[str] = []
    ref = parse_ref("/x" * 1000, warnings)
    assert ref is not None and len(ref.model) == 300 and not ref.resolved
    assert "truncated" in warnings[0]


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("[DARE TIES](https://arxiv.org/abs/2311.03099)", "dare_ties"),
        (
            "[DARE](https://arxiv.org/abs/2311.03099) [TIES](https://arxiv.org/abs/2306.01708)",
            "dare_ties",
        ),
        ("linear [DARE](https://arxiv.org/abs/2311.03099)", "dare_linear"),
        ("[Linear DARE](https://arxiv.org/abs/2311.03099)", "dare_linear"),
        ("SLERP", "slerp"),
        ("[NuSLERP](https://example.com)", "nuslerp"),
        ("[Task Arithmetic](https://arxiv.org/abs/2212.04089)", "task_arithmetic"),
        ("[TIES](https://arxiv.org/abs/2306.01708)", "ties"),
        ("[Linear](https://arxiv.org/abs/2203.05482)", "linear"),
        ("linear", "linear"),
        ("[Model Stock](https://arxiv.org/abs/2403.19522)", "model_stock"),
        ("[Model Breadcrumbs](https://arxiv.org/abs/2312.06795)", "breadcrumbs"),
        ("[Model Breadcrumbs with TIES](https://arxiv.org/abs/2312.06795)", "breadcrumbs_ties"),
        ("[DELLA](https://arxiv.org/abs/2406.11617)", "della"),
        ("[Linear DELLA](https://arxiv.org/abs/2406.11617)", "della_linear"),
        ("della_linear", "della_linear"),
        ("Passthrough", "passthrough"),
        ("[Arcee Fusion](https://arcee.ai)", "arcee_fusion"),
        ("Karcher Mean", "karcher"),
        ("[SCE](https://arxiv.org/abs/2408.07990)", "sce"),
        ("**Multi-SLERP**", "multislerp"),
        ("Some New Method", "some_new_method"),
    ],
)
def test_normalize_method(text: str, method: str) -> None:
    assert normalize_method(text) == method


def test_read_prose_lazymergekit_and_lora_bullets() -> None:
    prose = read_prose(
        [
            "X is a merge of the following models using [LazyMergekit](https://colab.x):",
            "* [org/a](https://huggingface.co/org/a)",
            "* [org/b](https://huggingface.co/org/b) + [org/l](https://huggingface.co/org/l)",
            "",
            "## 🧩 Configuration",
            "* [org/not-a-parent](https://huggingface.co/org/not-a-parent)",
        ]
    )
    assert prose.models == ["org/a", "org/b+org/l"]
    assert prose.merge_method is None
