"""The emulator models a hostile Hub without dying: an alias-bomb card, a 100,000-deep
safetensors header or config affect their own repo only (which lacks the derived field),
and every other repo lists and answers as usual — through the real client."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi
from kinhub.sandbox.emulator import derive
from safetensors.numpy import save_file

from tests.conftest import HubEmulators
from tests.sandbox.emulator.conftest import write_repo

GOOD_CARD = "---\nbase_model: org/base\nlicense: mit\n---\n# fine\n"


def alias_bomb(levels: int, width: int = 10) -> str:
    """Front matter whose last key expands to ``width**levels`` strings."""
    lines = ["---", "base_model: org/base", 'l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join([*lines, "---", "# bomb", ""])


def _tiny_safetensors(path: Path) -> bytes:
    save_file({"w": np.ones((4, 4), dtype=np.float32)}, str(path))
    return path.read_bytes()


def _deep_header(depth: int) -> bytes:
    body = b'{"__metadata__": ' + b"[" * depth + b"]" * depth + b"}"
    return struct.pack("<Q", len(body)) + body


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "hub"
    good = _tiny_safetensors(tmp_path / "good.safetensors")
    write_repo(root, "org/base", {"README.md": "# base\n", "model.safetensors": good})
    write_repo(root, "org/good", {"README.md": GOOD_CARD, "model.safetensors": good})
    # ~10^6 strings once aliases are followed: the JSON of cardData alone is ~7 MB.
    write_repo(root, "org/bomb", {"README.md": alias_bomb(6), "model.safetensors": good})
    write_repo(
        root,
        "org/deep",
        {
            "README.md": GOOD_CARD,
            "model.safetensors": _deep_header(100_000),
            "config.json": b'{"model_type": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        },
    )
    return root


def test_hostile_repos_lack_the_field_and_the_others_list_fine(
    snapshot: Path, hub_emulator: HubEmulators
) -> None:
    with hub_emulator(snapshot, page_size=2) as emu:
        api = HfApi(endpoint=emu.url)
        listed = {m.id: m for m in api.list_models(expand=["cardData", "safetensors", "config"])}
        assert set(listed) == {"org/base", "org/good", "org/bomb", "org/deep"}
        assert listed["org/good"].card_data is not None
        assert listed["org/good"].card_data.get("base_model") == "org/base"
        assert listed["org/good"].safetensors is not None
        assert listed["org/good"].safetensors.total == 16
        assert listed["org/bomb"].card_data is None  # refused, not expanded
        assert listed["org/bomb"].safetensors is not None  # its weights are fine
        assert listed["org/deep"].safetensors is None
        assert not listed["org/deep"].config
        assert listed["org/deep"].card_data is not None  # its card is fine
        # Every page answered; nothing failed on the server side.
        assert not {s for s in emu.stats()["statuses"] if s.startswith("5")}
        # The repo itself still serves its files and its info.
        info = api.model_info("org/deep", files_metadata=True)
        assert info.sha and {s.rfilename for s in info.siblings or []} >= {"model.safetensors"}


def test_a_billion_laughs_card_is_refused_at_once(
    snapshot: Path, hub_emulator: HubEmulators
) -> None:
    # 10^12 strings if expanded: only a bounded parse can answer at all.
    write_repo(snapshot, "org/bigbomb", {"README.md": alias_bomb(12)})
    with hub_emulator(snapshot) as emu:
        info = HfApi(endpoint=emu.url).model_info("org/bigbomb", expand=["cardData", "tags"])
        assert info.card_data is None
        assert "region:us" in (info.tags or [])


def test_front_matter_bounds() -> None:
    assert derive.parse_front_matter(alias_bomb(3)) is not None  # 1,000 strings: fine
    assert derive.parse_front_matter(alias_bomb(6)) is None
    cyclic = "---\na: &a [1, *a]\n---\n"
    assert derive.parse_front_matter(cyclic) is None
    long = "---\na: '" + "x" * (derive.MAX_FRONT_MATTER + 1) + "'\n---\n"
    assert derive.parse_front_matter(long) is None
    assert derive.safetensors_header(_deep_header(100_000)) is None
    assert derive.bounded_json(json.dumps({"a": [[1]]}).encode()) == {"a": [[1]]}
