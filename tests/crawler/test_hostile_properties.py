"""Generated hostile repos (cards, configs, safetensors headers) served by the emulator
into a real crawl, on SQLite and PostgreSQL: whatever they hold, the crawl ends ``ok``
and every well-behaved model next to them is stored (issue 16)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kinhub.db.engine import Database
from kinhub.db.models import Model
from kinhub.sandbox.hostile import card, safetensors_bytes
from sqlmodel import col, select

from tests.conftest import HubEmulators
from tests.crawler.crawl_support import run_crawl

# Characters that break things: NUL and other C0 controls, DEL, bidi overrides,
# YAML and Markdown syntax, a replacement character, plus ordinary ones.
NASTY = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\u202e\u2066\ufffd\ufeff:#-[]{}*&!|>'\"%@`\n\t\r "
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(NASTY), st.characters(codec="utf-8")), max_size=40
)
hostile_ref = st.one_of(
    st.builds(lambda a, b: f"{a}/{b}", hostile_text, hostile_text),
    st.sampled_from(["good0/base", "../../etc/passwd", "/abs/path", "a" * 400 + "/b"]),
    hostile_text,
)
big_int = st.one_of(st.integers(-(2**80), 2**80), st.sampled_from([2**63, -(2**63) - 1, 2**31]))
json_leaf = st.one_of(st.none(), st.booleans(), big_int, hostile_text, st.floats(allow_nan=False))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=20,
)


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


@st.composite
def hostile_card(draw: st.DrawFn) -> str:
    refs = draw(st.lists(hostile_ref, min_size=1, max_size=6))
    front = "base_model:\n" + "".join(f"- {_quote(r)}\n" for r in refs)
    front += f"license: {_quote(draw(hostile_text))}\n"
    front += "tags:\n" + "".join(
        f"- {_quote(t)}\n" for t in draw(st.lists(hostile_text, max_size=4))
    )
    models = "".join(
        f"  - model: {_quote(r)}\n    parameters:\n      weight: {json.dumps(draw(json_value))}\n"
        for r in refs
    )
    body = draw(hostile_text) + f"\n\n```yaml\nmerge_method: ties\nbase_model: {_quote(refs[0])}\n"
    body += f"models:\n{models}```\n" + draw(hostile_text)
    raw = draw(st.booleans())
    return card(front, body) if not raw else draw(hostile_text) + card(front, body)


@st.composite
def hostile_repo(draw: st.DrawFn) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {"README.md": draw(hostile_card())}
    if draw(st.booleans()):
        config: Any = draw(
            st.fixed_dictionaries(
                {
                    "architectures": st.lists(hostile_text, max_size=3),
                    "model_type": hostile_text,
                    "hidden_size": big_int,
                    "num_hidden_layers": big_int,
                    "vocab_size": big_int,
                    "extra": json_value,
                }
            )
        )
        files["config.json"] = json.dumps(config)
    if draw(st.booleans()):
        shape = draw(st.lists(st.integers(0, 2**70), min_size=1, max_size=4))
        header = {"w": {"dtype": draw(hostile_text), "shape": shape, "data_offsets": [0, 0]}}
        files["model.safetensors"] = safetensors_bytes(header)
    if draw(st.booleans()):
        files["mergekit_config.yml"] = draw(hostile_card()).split("```yaml\n", 1)[-1]
    return files


_round = itertools.count()


@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(repos=st.lists(hostile_repo(), min_size=1, max_size=3))
def test_hostile_repos_never_stop_a_crawl(
    repos: list[dict[str, str | bytes]],
    database: Database,
    hub_emulator: HubEmulators,
    tmp_path: Path,
) -> None:
    k = next(_round)  # one database for all examples: each brings its own ids
    good = {
        f"good{k}/base": {"README.md": card()},
        f"good{k}/tuned": {"README.md": card(f"base_model: good{k}/base\nlicense: mit\n")},
    }
    hostile = {f"hostile{k}/repo-{i}": files for i, files in enumerate(repos)}
    with hub_emulator({**good, **hostile}) as emu:
        report = run_crawl(database, emu.url, tmp_path / f"cache{k}")
    assert report.status == "ok", report.to_dict()
    with database.session() as session:
        stored = {
            m.repo_id: m.status
            for m in session.exec(select(Model).where(col(Model.repo_id).in_([*good, *hostile])))
        }
    assert stored[f"good{k}/base"] == "ok" and stored[f"good{k}/tuned"] == "ok"
    assert set(hostile) <= set(stored), "every hostile repo is on record too"
