"""Hostile strings from a card reach no terminal unescaped (issue 16): every table
and tree view shows control and bidi characters as visible escapes; JSON keeps the
real strings. A real ``kinhub ingest`` of a hostile folder, both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from kinhub.cli.app import app
from kinhub.cli.render import safe
from typer.testing import CliRunner

runner = CliRunner()


def stored(text: str) -> str:
    """What the crawl boundary (crawler/clean.py) keeps of a short field: C0 controls
    and DEL replaced by U+FFFD; bidi controls stay, for the views to escape."""
    return re.sub("[\x00-\x1f\x7f]", "\ufffd", text)


LICENSE = stored("mit\x1b[2J\u202eevil\rX")
METHOD = stored("linear\x1b[5m\u202e")
TAG = stored("t\x1b]0;pwn\x07")
DATASET = stored("arc\x1b[31m\u2066")

# YAML double-quoted escapes (\e, \u202e…): the file itself holds no raw controls.
CARD = """\
---
license: "mit\\e[2J\\u202eevil\\rX"
base_model:
- org/base-a
- org/base-b
tags: [merge, "t\\e]0;pwn\\a"]
model-index:
- name: m
  results:
  - task: {type: text-generation}
    dataset: {name: "arc\\e[31m\\u2066", type: arc}
    metrics:
    - {type: acc, value: 50.0}
---
# m
"""
CONFIG = """\
models:
  - model: org/base-a
  - model: org/base-b
merge_method: "linear\\e[5m\\u202e"
dtype: bfloat16
"""

# What no terminal may receive raw: ESC, CR, BEL, NUL, DEL, C1, bidi controls.
FORBIDDEN = {
    *map(chr, range(0x00, 0x20)),
    "\x7f",
    *map(chr, range(0x80, 0xA0)),
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
} - {"\n"}


def _kinhub(url: str, *args: str) -> tuple[str, str]:
    result = runner.invoke(app, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> str:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text(CARD, encoding="utf-8")
    (folder / "mergekit_config.yml").write_text(CONFIG, encoding="utf-8")
    _kinhub(database_url, "ingest", str(folder), "--repo-id", "org/m")
    return database_url


def test_safe_escapes_controls_and_bidi_only() -> None:
    assert safe("org/model-ü 7B") == "org/model-ü 7B"
    assert safe("mit\x1b[2J\u202eevil\rX") == "mit\\x1b[2J\\u202eevil\\x0dX"
    assert safe(LICENSE) == "mit\ufffd[2J\\u202eevil\ufffdX"
    assert safe("a\nb\tc\x00") == "a\\x0ab\\x09c\\x00"
    assert safe("a\nb\r", keep_newlines=True) == "a\nb\\x0d"
    assert safe("\u2067x\U000e0001") == "\\u2067x\\U000e0001"


@pytest.mark.parametrize(
    "args",
    [
        ("lineage", "org/m"),
        ("lineage", "org/m", "--engine", "networkx", "--both"),
        ("lineage", "org/base-a", "--down"),
        ("show", "org/m"),
        ("licenses", "org/m"),
        ("stats",),
        ("db", "runs"),
        ("jobs",),
    ],
)
def test_views_escape_hostile_strings(url: str, args: tuple[str, ...]) -> None:
    out, err = _kinhub(url, *args)
    for stream in (out, err):
        assert not FORBIDDEN & set(stream), sorted(FORBIDDEN & set(stream))
    shown = out + err
    visible = {"lineage": [safe(METHOD)], "show": [safe(LICENSE), safe(TAG), safe(DATASET)]}
    visible["licenses"] = [safe(LICENSE)]
    visible["stats"] = [safe(METHOD)]
    for expected in visible.get(args[0], []):
        assert expected in shown.replace("\n", "")


def test_json_keeps_the_real_strings(url: str) -> None:
    out, _ = _kinhub(url, "show", "org/m", "--format", "json")
    doc = json.loads(out)
    assert doc["license"] == LICENSE
    assert TAG in doc["tags"]
    assert doc["recipes"][0]["merge_method"] == METHOD
    lineage = json.loads(_kinhub(url, "lineage", "org/m", "--format", "json")[0])
    assert {e["method"] for e in lineage["edges"]} == {METHOD}
    audit = json.loads(_kinhub(url, "licenses", "org/m", "--format", "json")[0])
    assert audit["license"] == LICENSE
