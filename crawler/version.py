"""The version of the parser's rules (cards, merge configs, Hub tags → facts).

Every stored recipe and model text carries the version that read it; bump this
when a parser change alters what the same texts yield, and ``kinhub db reparse``
re-reads the stored texts of every model parsed by an older version (no Hub
access).  History: 1 — what databases written before versions were stored
hold; 2 — source texts and versions stored; 3 — parent roles follow the
merge method (which methods subtract their ``base_model``).
"""

from __future__ import annotations

PARSER_VERSION = 3
