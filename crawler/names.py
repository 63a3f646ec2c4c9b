"""The names the crawler's choices go by: crawl scopes, the kinds of text the parser
reads — each list defined once.

Standard library only, so the command line offers these choices (and ``--help``
lists them) without importing the crawler, the Hub client or the database layer;
:mod:`kinhub.crawler.crawl` and :mod:`kinhub.crawler.result` read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

ScopeKind = Literal["merges", "children-of", "full"]
"""What a crawl covers: the merge listings, the children of one model, or everything."""
SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)
DEFAULT_SCOPE: ScopeKind = "merges"

TextKind = Literal["card", "config"]
"""What the parser reads: a model card (README.md) or a mergekit config."""
TEXT_KINDS: tuple[TextKind, ...] = get_args(TextKind)
