"""The texts a crawl stored for models, read back so an unchanged file need not be
downloaded again (the Hub names a file's blob id before sending its bytes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kinhub.db.models import Model, ModelText
from sqlmodel import Session, col, select


@dataclass(frozen=True)
class StoredTexts:
    """A model's stored card and merge config (``config_name`` says which file)."""

    card_text: str | None
    config_name: str | None
    config_text: str | None


def stored_texts(session: Session, repo_ids: Iterable[str]) -> dict[str, StoredTexts]:
    """``repo_id → StoredTexts`` for the ids that have stored texts."""
    ids = list(dict.fromkeys(repo_ids))
    out: dict[str, StoredTexts] = {}
    # Chunked: SQLite caps the number of bound parameters.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(Model.repo_id, ModelText.card_text, ModelText.config_name, ModelText.config_text)
            .join(ModelText, col(ModelText.model_id) == col(Model.id))
            .where(col(Model.repo_id).in_(chunk))
        )
        for repo_id, card, config_name, config in rows:
            out[repo_id] = StoredTexts(card, config_name, config)
    return out
