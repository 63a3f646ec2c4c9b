"""Everything stored about one model, in one typed report (``kinhub show``).

Facts, crawl status and last error, its recipes with the raw text they were read
from, parents and children (one entry per relation and role, with every evidence
source), evaluations, and the kinship measurements it takes part in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinhub.db.answers.evidence import best_evidence, stated_role
from kinhub.db.answers.export_graph import Evidence, evidence_select, group_evidence
from kinhub.db.answers.guards import require_models
from kinhub.db.models import Edge, Evaluation, Kinship, Model, Recipe
from kinhub.db.store import require_model
from kinhub.db.weight_checks import checks_of, edge_check
from sqlalchemy import or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

_FACTS = (
    "repo_id",
    "sha",
    "created_at",
    "last_modified",
    "license",
    "library_name",
    "pipeline_tag",
    "tags",
    "architectures",
    "model_type",
    "hidden_size",
    "num_layers",
    "vocab_size",
    "num_parameters",
    "downloads",
    "likes",
    "gated",
    "private",
)
_CRAWL = ("status", "last_error", "error_count", "retry_after", "first_seen", "updated_at")
_RECIPE = (
    "source",
    "merge_method",
    "base_model",
    "dtype",
    "tokenizer_source",
    "stages",
    "warnings",
    "raw_text",
)
_KINSHIP = (
    "model_a",
    "model_b",
    "base",
    "revision_a",
    "revision_b",
    "revision_base",
    "mode",
    "convention",
    "sample_fraction",
    "cs",
    "pcc",
    "ed",
    "params_compared",
    "computed_at",
)


@dataclass(frozen=True)
class Relative:
    """A parent or child: one entry per (relation, role), with all evidence sources."""

    id: str
    relation: str
    role: str
    sources: list[str]
    parameters: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    weight_check: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelReport:
    facts: dict[str, Any]
    crawl: dict[str, Any]
    recipes: list[dict[str, Any]]
    parents: list[Relative]
    children: list[Relative]
    evaluations: list[dict[str, Any]]
    kinship: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        def relative(r: Relative) -> dict[str, Any]:
            return {
                "id": r.id,
                "relation": r.relation,
                "role": r.role,
                "sources": r.sources,
                "parameters": r.parameters,
                "revision": r.revision,
                "weight_check": r.weight_check,
            }

        return {
            **self.facts,
            "crawl": self.crawl,
            "recipes": self.recipes,
            "parents": [relative(r) for r in self.parents],
            "children": [relative(r) for r in self.children],
            "evaluations": self.evaluations,
            "kinship": self.kinship,
        }


def _relatives(session: Session, model_id: int, *, parents: bool) -> list[Relative]:
    child, parent = aliased(Model), aliased(Model)
    rows = session.execute(
        evidence_select(child, parent)
        .where((col(Edge.child_id) if parents else col(Edge.parent_id)) == model_id)
        .order_by(col(Edge.id))
    ).all()
    checks = checks_of(session, model_id, parents=parents)
    out = []
    for group in group_evidence([Evidence(*row) for row in rows]):
        first = best_evidence(group)
        role = stated_role(e.role for e in group)
        other = first.parent if parents else first.child
        out.append(
            Relative(
                id=other,
                relation=first.relation,
                role=role,
                sources=sorted({e.source for e in group}),
                parameters=first.parameters,
                revision=first.revision,
                weight_check=edge_check(checks, other, first.relation, role),
            )
        )
    return sorted(out, key=lambda r: (r.id, r.relation, r.role))


def model_report(session: Session, repo_id: str) -> ModelReport:
    """What the database knows about ``repo_id``.

    Raises:
        EmptyDatabaseError: the database holds no models.
        ModelNotFoundError: ``repo_id`` is not in it.
    """
    require_models(session)
    model = require_model(session, repo_id)
    assert model.id is not None
    recipes = session.scalars(
        select(Recipe).where(col(Recipe.model_id) == model.id).order_by(col(Recipe.source))
    )
    evaluations = session.scalars(
        select(Evaluation)
        .where(col(Evaluation.model_id) == model.id)
        .order_by(col(Evaluation.dataset), col(Evaluation.metric))
    )
    kinship = session.scalars(
        select(Kinship)
        .where(or_(col(Kinship.model_a_id) == model.id, col(Kinship.model_b_id) == model.id))
        .order_by(col(Kinship.computed_at).desc())
    )
    return ModelReport(
        facts={key: getattr(model, key) for key in _FACTS},
        crawl={key: getattr(model, key) for key in _CRAWL},
        recipes=[{key: getattr(r, key) for key in _RECIPE} for r in recipes],
        parents=_relatives(session, model.id, parents=True),
        children=_relatives(session, model.id, parents=False),
        evaluations=[
            {
                "task": e.task,
                "dataset": e.dataset,
                "metric": e.metric,
                "value": e.value,
                "source_name": e.source_name,
            }
            for e in evaluations
        ],
        kinship=[{key: getattr(k, key) for key in _KINSHIP} for k in kinship],
    )
