"""Every fixture card/config parses to the expectation written beside it.

Each ``<name>.expected.json`` was written by hand from reading the fixture.  Keys
are compared to ``ParseResult.to_json()`` except these helpers:

* ``stage_count``: number of earlier stages,
* ``stages``: per earlier stage, a subset of its JSON,
* ``inputs_contain``: each dict must be a subset of some input,
* ``roles``: ``[model, role]`` of every input, in order,
* ``parent_roles``: every distinct ``[model, role]`` of the inputs, in order,
* ``warnings_contain``: each text must occur in some warning,
* ``no_warnings``: the parse produced no warning at all.

and, not compared: ``files_given`` (the repo's file names handed to the parser)
and ``class`` (the class of card, for ``scripts/parser_accuracy.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kinhub.crawler.accuracy import parent_roles
from kinhub.crawler.parse import parse_card, parse_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# The hand-written fixtures and the development set of issue 19 (real-card shapes);
# the held-out set (fixtures/heldout) is scored as a whole by test_parser_accuracy.
CARDS = sorted((FIXTURES / "cards").glob("*.md")) + sorted(
    (FIXTURES / "dev" / "cards").glob("*.md")
)
CONFIGS = sorted(p for p in (FIXTURES / "configs").iterdir() if p.suffix in (".yml", ".yaml"))


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))


def _subset(part: dict[str, Any], whole: dict[str, Any]) -> bool:
    return all(key in whole and whole[key] == value for key, value in part.items())


def check(out: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if key == "stage_count":
            assert len(out["stages"]) == value, out["stages"]
        elif key == "stages":
            assert len(out["stages"]) == len(value)
            for got, want in zip(out["stages"], value, strict=True):
                assert _subset(want, got), (want, got)
        elif key == "inputs_contain":
            for want in value:
                assert any(_subset(want, got) for got in out["inputs"]), (want, out["inputs"])
        elif key == "roles":
            assert [[i["model"], i["role"]] for i in out["inputs"]] == value, out["inputs"]
        elif key == "parent_roles":
            assert parent_roles(out) == value, out["inputs"]
        elif key == "class":
            continue
        elif key == "warnings_contain":
            for text in value:
                assert any(text in w for w in out["warnings"]), (text, out["warnings"])
        elif key == "no_warnings":
            assert out["warnings"] == [], out["warnings"]
        else:
            assert out[key] == value, (key, out[key], value)
    json.dumps(out, allow_nan=False)  # strictly serializable


def test_enough_fixtures() -> None:
    assert len(CARDS) + len(CONFIGS) >= 45
    for path in [*CARDS, *CONFIGS]:
        assert path.with_name(path.stem + ".expected.json").exists(), path


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.name)
def test_card_fixture(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    expected = _expected(path)
    files = expected.pop("files_given", None)
    out = parse_card(text, file=path.name, files=files).to_json()
    assert out["kind"] == "card"
    check(out, expected)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_fixture(path: Path) -> None:
    out = parse_config(path.read_text(encoding="utf-8"), file=path.name).to_json()
    assert out["kind"] == "config"
    check(out, _expected(path))
