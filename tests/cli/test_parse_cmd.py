"""``kinhub parse`` through Typer's test runner (assertions on parsed JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from kinhub.cli.app import app
from typer.testing import CliRunner

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()


def test_parse_mergekit_template_card() -> None:
    path = FIXTURES / "cards" / "mergekit_dare_ties.md"
    result = runner.invoke(app, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["file"] == str(path)
    assert out["kind"] == "card"
    assert out["relation"] == "merge"
    assert out["merge_method"] == "dare_ties"
    assert out["base_model"] == "example-org/Mistral-7B-Base"
    # dare_ties subtracts its base: listed among the models, it is still no parent
    assert out["parents"] == ["acme/Hermes-Math-7B", "acme/Story-Writer-7B"]
    assert out["stages"] == []
    assert out["tags"] == ["mergekit", "merge"]
    assert out["warnings"] == []


def test_parse_several_files_prints_an_array() -> None:
    card = FIXTURES / "cards" / "lazymergekit.md"
    config = FIXTURES / "configs" / "mergekit_moe_config.yml"
    result = runner.invoke(app, ["parse", str(card), str(config)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [o["kind"] for o in out] == ["card", "config"]
    assert out[1]["relation"] == "moe"
    assert out[1]["merge_method"] == "moe"


def test_kind_detection_by_content_and_override(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.txt"
    recipe.write_text("merge_method: linear\nmodels:\n  - model: org/a\n  - model: org/b\n")
    card = tmp_path / "CARD"
    card.write_text("---\nbase_model: org/a\n---\n# A card\n\nText.\n")
    out = json.loads(runner.invoke(app, ["parse", str(recipe), str(card)]).stdout)
    assert [o["kind"] for o in out] == ["config", "card"]
    assert out[0]["parents"] == ["org/a", "org/b"]
    assert out[1]["relation"] == "finetune"
    forced = json.loads(runner.invoke(app, ["parse", "--kind", "card", str(recipe)]).stdout)
    assert forced["kind"] == "card"


def test_unreadable_path_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    result = runner.invoke(app, ["parse", str(missing)])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "nope.md" in result.stderr
    assert result.stdout == ""
    directory = runner.invoke(app, ["parse", str(tmp_path)])
    assert directory.exit_code == 1
    assert "cannot read" in directory.stderr


def test_help_documents_every_output_field() -> None:
    result = runner.invoke(app, ["parse", "--help"], terminal_width=200)
    assert result.exit_code == 0
    sample = runner.invoke(app, ["parse", str(FIXTURES / "cards" / "moe_card.md")])
    for key in json.loads(sample.stdout):
        assert key in result.stdout, key


def test_parse_the_same_file_twice_prints_it_once() -> None:
    card = FIXTURES / "cards" / "lazymergekit.md"
    config = FIXTURES / "configs" / "mergekit_moe_config.yml"
    # The same file by another spelling (a `..` detour) is the same file.
    detour = card.parent.parent / "cards" / ".." / "cards" / card.name
    result = runner.invoke(app, ["parse", str(card), str(config), str(detour), str(card)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [o["file"] for o in out] == [str(card), str(config)]
    single = runner.invoke(app, ["parse", str(card), str(card)])
    assert single.exit_code == 0, single.output
    assert json.loads(single.stdout)["file"] == str(card)
