"""What a crawl covers: its scope (``merges``, ``children-of`` a model, ``full``) and
the Hub listings that scope is walked through, each with its checkpoint key.

``merges`` is one listing per merge tag (deduplicated by the crawl),
``children-of MODEL`` the listing ``filter=base_model:MODEL`` (the Hub adds that tag
for every relation), ``full`` every model.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinhub.crawler.errors import CrawlerError
from kinhub.crawler.names import DEFAULT_SCOPE, SCOPE_KINDS, ScopeKind
from kinhub.db.ids import is_repo_id

MERGE_TAGS: tuple[str, ...] = ("merge", "mergekit", "lazymergekit", "moe")


class ScopeError(CrawlerError):
    """A crawl scope that kinhub does not know, or one missing its model."""


@dataclass(frozen=True)
class Listing:
    """One listing query and the checkpoint key it is saved under."""

    key: str
    filters: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """What to crawl: ``merges``, ``children-of`` a model, or ``full``."""

    kind: ScopeKind = DEFAULT_SCOPE
    model: str | None = None

    @classmethod
    def parse(cls, kind: str, model: str | None = None) -> Scope:
        """Validate a scope given on the command line.

        Raises:
            ScopeError: unknown kind, or ``children-of`` without a valid model id.
        """
        if kind not in SCOPE_KINDS:
            known = ", ".join(SCOPE_KINDS)
            raise ScopeError(f"unknown scope {kind!r} (use {known})")
        if kind == "children-of":
            if not model or not is_repo_id(model):
                raise ScopeError("scope children-of needs a model id (org/name)")
            return cls(kind="children-of", model=model)
        if model:
            raise ScopeError(f"scope {kind} takes no model")
        return cls(kind=kind)

    @property
    def label(self) -> str:
        return f"children-of:{self.model}" if self.kind == "children-of" else self.kind

    def listings(self) -> list[Listing]:
        if self.kind == "merges":
            return [Listing(key=f"models:filter={tag}", filters=(tag,)) for tag in MERGE_TAGS]
        if self.kind == "children-of":
            tag = f"base_model:{self.model}"
            return [Listing(key=f"models:filter={tag}", filters=(tag,))]
        return [Listing(key="models:all", filters=())]


__all__ = ["MERGE_TAGS", "Listing", "Scope", "ScopeError", "ScopeKind"]
