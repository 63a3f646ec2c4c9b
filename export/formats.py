"""The export file formats: one list for the command line and the writers.

Standard library only: ``kinhub export --help`` offers these choices without
importing the database layer.
"""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    graphml = "graphml"
    gexf = "gexf"
    json = "json"
    mermaid = "mermaid"
    dot = "dot"
    html = "html"


__all__ = ["ExportFormat"]
