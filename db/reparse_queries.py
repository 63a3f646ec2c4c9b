"""The queries ``kinhub db reparse`` needs: stored source texts, oldest parser first.

A model's texts (``model_text``) are what the parser read at the model's sha;
re-parsing them with a newer parser and writing the result through
:func:`kinhub.db.store.upsert_model` brings old rows up to date without the Hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinhub.db.models import Model, ModelText
from kinhub.db.records import ModelRecord, SourceTexts
from kinhub.db.store import stored_record
from sqlalchemy import func
from sqlmodel import Session, col, select

# Statuses whose models carry parsed facts (the others are placeholders or failures).
PARSED_STATUSES = ("ok", "gated")


@dataclass(frozen=True)
class StoredSource:
    """One model's stored facts and the texts its edges were parsed from."""

    model_id: int
    record: ModelRecord  # facts only: no edges, recipes or evaluations
    texts: SourceTexts
    parser_version: int


def _stale(query: Any, older_than: int | None) -> Any:
    if older_than is None:
        return query
    return query.where(col(ModelText.parser_version) < older_than)


def sources_to_reparse(
    session: Session, *, older_than: int | None, after_id: int = 0, limit: int = 200
) -> list[StoredSource]:
    """Models with stored texts whose parser version is below ``older_than``
    (every one with texts when None), in model-id order after ``after_id``.

    Only texts read at the model's current sha qualify.
    """
    query = (
        select(Model, ModelText)
        .join(ModelText, col(ModelText.model_id) == col(Model.id))
        .where(col(ModelText.sha) == col(Model.sha))
        .where(col(Model.status).in_(PARSED_STATUSES))
        .where(col(Model.id) > after_id)
    )
    query = _stale(query, older_than)
    rows = session.exec(query.order_by(col(Model.id)).limit(limit))
    out: list[StoredSource] = []
    for model, text in rows:
        assert model.id is not None
        out.append(
            StoredSource(
                model_id=model.id,
                record=stored_record(model),
                texts=SourceTexts(
                    card_text=text.card_text,
                    config_name=text.config_name,
                    config_text=text.config_text,
                    files=text.files,
                ),
                parser_version=text.parser_version,
            )
        )
    return out


def count_to_reparse(session: Session, *, older_than: int | None) -> int:
    """How many models :func:`sources_to_reparse` would yield in all."""
    query = (
        select(func.count(col(Model.id)))
        .join(ModelText, col(ModelText.model_id) == col(Model.id))
        .where(col(ModelText.sha) == col(Model.sha))
        .where(col(Model.status).in_(PARSED_STATUSES))
    )
    return int(session.exec(_stale(query, older_than)).one())


def count_without_texts(session: Session) -> int:
    """Parsed models with no texts at their sha (stored before texts were kept, or
    written without them): only a re-crawl can re-parse them."""
    has_texts = (
        select(ModelText.model_id)
        .where(col(ModelText.model_id) == col(Model.id))
        .where(col(ModelText.sha) == col(Model.sha))
    )
    query = (
        select(func.count(col(Model.id)))
        .where(col(Model.status).in_(PARSED_STATUSES))
        .where(col(Model.sha).is_not(None))
        .where(~has_texts.exists())
    )
    return int(session.exec(query).one())


def current_sha(session: Session, model_id: int) -> str | None:
    """The model's sha now, its row locked until the transaction ends (PostgreSQL;
    on SQLite call this inside ``Database.write_transaction``, which locks the file)."""
    query = select(Model.sha).where(col(Model.id) == model_id).with_for_update()
    return session.exec(query).first()
