"""``kinhub export -o FILE`` writes a file with the mode the user's umask gives, as any
file they create would have (not the 0600 of a temporary file renamed into place)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.export.conftest import Kinhub


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_export_file_follows_the_umask(family_url: str, tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        for fmt in ("graphml", "html"):
            target = tmp_path / f"family-{mask:o}.{fmt}"
            result = Kinhub(family_url).run("export", "--format", fmt, "-o", str(target))
            assert result.exit_code == 0, result.output
            assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
            replaced = Kinhub(family_url).run("export", "--format", fmt, "-o", str(target))
            assert replaced.exit_code == 0, replaced.output
            assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
