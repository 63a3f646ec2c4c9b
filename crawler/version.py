"""The version of the parser's rules (cards, merge configs, Hub tags → facts).

Every stored recipe and model text carries the version that read it; bump this
when a parser change alters what the same texts yield, and ``kinhub db reparse``
re-reads the stored texts of every model parsed by an older version (no Hub
access).  History: 1 — what databases written before versions were stored
hold; 2 — source texts and versions stored; 3 — parent roles follow the
merge method (which methods subtract their ``base_model``); 4 — genealogy told
in prose (``card_prose`` edges: merges, MoE experts, self-stacks, base models
named in the body), adapters told from file names, partial and split recipes,
Python-tagged YAML, MoE of one model read as a self-merge; 5 — recipes found
by content whatever their fence (JSON, Python dicts, wrapper keys), broken
fences and indentation repaired, unfenced and bare slices, a MoE of repeated
experts stays a MoE, a recipe or prose merge quoted from the base of a
fine-tune/adapter set aside, broken front matter and ``base_model:`` tags read,
multilingual prose with short names and wrapped sentences (issue 19).
"""

from __future__ import annotations

PARSER_VERSION = 5
