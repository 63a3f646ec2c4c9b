"""The one builder of a model's record: what the parser reads in its texts, joined to
what is known of the model besides them.

A model reaches the database three ways — a Hub crawl (the listing item and the
files downloaded at its sha), ``kinhub ingest`` (a local folder) and ``kinhub db
reparse`` (a stored row and the texts stored with it) — and all three build its
:class:`~kinhub.db.records.ModelRecord` with :func:`build_record`, so a model reads
the same whichever way it arrived, cleaned once by
:func:`kinhub.crawler.clean.clean_record` (NUL and control characters, numbers
beyond their columns, nesting).  Raises only :class:`~kinhub.crawler.clean.HostileInputError`
(a value nested too deep); other problems go in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kinhub.crawler import facts as parser_facts
from kinhub.crawler.clean import clean_record
from kinhub.crawler.hfconfig import ArchitectureFacts
from kinhub.db.records import ModelRecord, SourceTexts

CONFIG_NAMES = ("mergekit_config.yml", "mergekit_moe_config.yml", "best_config.yaml")
"""The merge configs the parser reads, in order of preference (the first present)."""


@dataclass(frozen=True)
class BuiltRecord:
    """A model's record and what the parser warned about while reading its texts."""

    record: ModelRecord
    warnings: list[str]


def build_record(
    *,
    known: ModelRecord,
    texts: SourceTexts,
    parser_version: int,
    architecture: ArchitectureFacts | None = None,
) -> BuiltRecord:
    """``known`` with the facts the parser derives from ``texts`` (the card, the merge
    config and the repo's file names): edges, recipes, evaluations, license and tags.

    ``known`` is the model as known without the parser — the Hub listing's facts
    (crawl), the folder's (ingest) or the stored row's (reparse); its ``tags`` are
    the Hub's tags, read for ``base_model:`` edges and license tags (a stored tag
    list includes them).  The card's library and pipeline tag win over ``known``'s.
    ``architecture``: the facts of the model's ``config.json`` when it was read
    (None keeps ``known``'s).  ``texts`` are stored with the record, stamped with
    ``parser_version``, so a newer parser can read them again.
    """
    # Looked up at call time: a test swaps the parser for a newer rule (test_reparse).
    facts = parser_facts.model_facts(
        card_text=texts.card_text,
        config_text=texts.config_text,
        config_name=texts.config_name or CONFIG_NAMES[0],
        hub_tags=known.tags,
        files=texts.files,
    )
    record = replace(
        known,
        tags=facts.tags,
        license=facts.license,
        library_name=facts.library_name or known.library_name,
        pipeline_tag=facts.pipeline_tag or known.pipeline_tag,
        edges=facts.edges,
        recipes=facts.recipes,
        evaluations=facts.evaluations,
        texts=texts,
        parser_version=parser_version,
    )
    if architecture is not None:
        record = replace(
            record,
            architectures=architecture.architectures,
            model_type=architecture.model_type,
            hidden_size=architecture.hidden_size,
            num_layers=architecture.num_layers,
            vocab_size=architecture.vocab_size,
        )
    # The crawl boundary: strings cleaned, numbers bounded, depth limited (clean.py).
    record, notes = clean_record(record)
    return BuiltRecord(record=record, warnings=[*facts.warnings, *notes])


__all__ = ["CONFIG_NAMES", "BuiltRecord", "build_record"]
