"""The package's layers, checked on the source.

The layer rules themselves are import-linter contracts in ``pyproject.toml``
(``cli → pipeline → crawler | kinship | export → hub → db``, the sandbox out of
product rooms, one ``huggingface_hub`` importer), run by ``lint-imports`` in the
README's test command.  This module checks what those contracts cannot: that every
room of the package is named in them, and that the libraries have no import cycles.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "pipeline", "crawler", "kinship", "export", "hub", "db", "sandbox")
LIBRARIES = {"crawler", "kinship", "export", "hub", "db"}
_HF_IMPORT = re.compile(r"^\s*(?:from|import)\s+huggingface_hub\b", re.MULTILINE)


def _sources() -> dict[str, Path]:
    """Module name (``kinhub.hub.client``) -> file, for every .py of the package's rooms."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(["kinhub", *parts])] = path
    return out


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """kinhub modules ``module`` imports anywhere in its file (lazy and TYPE_CHECKING
    imports included); ``from pkg import name`` counts as ``pkg.name`` when that is a
    module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m == "kinhub" or m.startswith("kinhub.")}


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    sources = _sources()
    known = set(sources)
    g = nx.DiGraph()
    for module, path in sources.items():
        g.add_node(module)
        for target in _imports(module, path, known):
            if target != module:
                g.add_edge(module, target)
    return g


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_the_sources_are_found(graph: nx.DiGraph) -> None:
    assert {"kinhub.hub.client", "kinhub.kinship.engine", "kinhub.cli.app"} <= set(graph)
    assert graph.has_edge("kinhub.crawler.crawl", "kinhub.hub.client")
    # Lazy imports count: the engine imports the sampler inside compute_kinship.
    assert graph.has_edge("kinhub.kinship.engine", "kinhub.kinship.sampled")


def test_exactly_one_module_imports_huggingface_hub() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in _sources().values()
        if _HF_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["hub/client.py"]


def test_every_room_is_in_the_layers_contract() -> None:
    """A new top-level room must take a place in the layers (or be the sandbox)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    named = {room.strip().removeprefix("kinhub.") for layer in layers for room in layer.split("|")}
    rooms = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"tests"}
    assert rooms == set(PACKAGES)
    assert rooms - {"sandbox"} == named


def test_every_db_kernel_module_is_in_the_kernel_contract() -> None:
    """The kernel contract lists its modules one by one; a new module of ``db/`` (outside
    ``db/jobs`` and ``db/answers``) must be listed there too, or the rule silently skips it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    forbidden = ["kinhub.db.jobs", "kinhub.db.answers"]
    kernel = next(c for c in contracts if c.get("forbidden_modules") == forbidden)
    listed = set(kernel["source_modules"])
    on_disk = {
        f"kinhub.db.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "db").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    } - {"kinhub.db.jobs", "kinhub.db.answers"}
    assert on_disk == listed


def test_no_import_cycle_between_engine_and_sampled(graph: nx.DiGraph) -> None:
    engine, sampled = "kinhub.kinship.engine", "kinhub.kinship.sampled"
    assert not (nx.has_path(graph, engine, sampled) and nx.has_path(graph, sampled, engine))


def test_no_import_cycles_in_the_libraries(graph: nx.DiGraph) -> None:
    libraries = graph.subgraph(m for m in graph if _layer(m) in LIBRARIES)
    assert list(nx.simple_cycles(libraries)) == []
