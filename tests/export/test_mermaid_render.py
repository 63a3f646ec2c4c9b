"""The Mermaid export renders in headless Chromium with the npm `mermaid` package.

`.ci/run` installs the package into a temporary folder (never committed) and points
``KINHUB_MERMAID_JS`` at its ``dist/mermaid.min.js``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kinhub.db.answers.export_graph import Selection
from kinhub.db.engine import open_database
from kinhub.export.service import ExportFormat, export_genealogy

from tests.export.browser import _in_ci, chromium_driver, console_errors
from tests.export.family import HOSTILE, HOSTILE_REF, MERGE_Y, RESOLVED_IDS, write_family

RENDER = """
const [text, done] = arguments;
mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
mermaid.render("family", text).then(
  (result) => {
    document.getElementById("out").innerHTML = result.svg;
    done({svg: result.svg});
  },
  (error) => done({error: String(error && error.message || error)}),
);
"""


@pytest.fixture(scope="module")
def mermaid_js() -> Path:
    value = os.environ.get("KINHUB_MERMAID_JS")
    if not value or not Path(value).is_file():
        message = "KINHUB_MERMAID_JS does not name mermaid.min.js (.ci/run installs it)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return Path(value)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    yield from chromium_driver()


def mermaid_export(tmp_path: Path, **selection: Any) -> str:
    database = open_database(f"sqlite:///{tmp_path / 'family.db'}")
    try:
        write_family(database)
        out = io.StringIO()
        with database.session() as session:
            export_genealogy(
                session, selection=Selection(**selection), fmt=ExportFormat.mermaid, out=out
            )
    finally:
        database.dispose()
    return out.getvalue()


def render(driver: Any, mermaid_js: Path, tmp_path: Path, text: str) -> dict[str, Any]:
    page = tmp_path / "render.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<script src="{mermaid_js.as_uri()}"></script></head>'
        '<body><div id="out"></div></body></html>',
        encoding="utf-8",
    )
    driver.get_log("browser")
    driver.get(page.as_uri())
    driver.set_script_timeout(60)
    result: dict[str, Any] = driver.execute_async_script(RENDER, text)
    return result


def test_whole_family_renders_with_hostile_names(
    driver: Any, mermaid_js: Path, tmp_path: Path
) -> None:
    text = mermaid_export(tmp_path)
    result = render(driver, mermaid_js, tmp_path, text)
    assert "error" not in result, result.get("error")
    drawn = driver.execute_script("return document.querySelectorAll('#out g.node').length")
    assert drawn == len(RESOLVED_IDS) + 1
    labels = driver.execute_script("return document.getElementById('out').textContent")
    assert HOSTILE_REF in labels and HOSTILE in labels and "dare_ties · cs 0.800" in labels
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.execute_script("return document.querySelectorAll('#out img').length") == 0
    assert console_errors(driver) == []


def test_subgraph_renders(driver: Any, mermaid_js: Path, tmp_path: Path) -> None:
    result = render(driver, mermaid_js, tmp_path, mermaid_export(tmp_path, model=MERGE_Y))
    assert "error" not in result, result.get("error")
    assert driver.execute_script("return document.querySelectorAll('#out g.node').length") == 6


def test_a_broken_diagram_is_reported(driver: Any, mermaid_js: Path, tmp_path: Path) -> None:
    # The harness itself can fail: an unquoted label with markup is a parse error.
    result = render(driver, mermaid_js, tmp_path, 'flowchart TD\n  a["x"] --> b[x"y]\n')
    assert "error" in result
