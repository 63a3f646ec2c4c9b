"""License classes and the genealogy license audit (``kinhub licenses``).

Every Hub license id falls into one class, ordered from most to least permissive
for someone who wants to use or publish a derivative (a merge is a derivative of
every ancestor):

========================  ====  ==========================================================
class                     rank  licenses
========================  ====  ==========================================================
``permissive``            4     apache-2.0, mit, bsd-*, cc-by-*, cc0-1.0, isc, unlicense, …
``copyleft``              3     gpl-*, agpl-3.0, lgpl-*, mpl-2.0, cc-by-sa-*, eupl-*, odbl, …
``restricted``            2     commercial use under conditions or use restrictions:
                                llama2…llama4, gemma, openrail*, *-rail-*, qwen-style, c-uda
``noncommercial``         1     cc-by-nc-*, research-only licenses (fair-noncommercial-
                                research-license, h-research, intel-research, apple-amlr, …)
``no-derivatives``        0     cc-by-nd-*, cc-by-nc-nd-*: a merge may not be published
``other``                 –     ``other`` or a name not in the table: read the card
``unknown``               –     no license declared, ``unknown``, or an unresolved reference
========================  ====  ==========================================================

The audit warns when the model's class ranks above an ancestor's (an apache-2.0 merge
of a cc-by-nc-4.0 model), and for every ancestor whose license is unknown or ``other``.
It reports what the metadata says; it is not legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kinhub.db.answers.guards import require_models
from kinhub.db.answers.lineage import lineage_sql
from kinhub.db.store import require_model
from sqlmodel import Session


class LicenseClass(StrEnum):
    permissive = "permissive"
    copyleft = "copyleft"
    restricted = "restricted"
    noncommercial = "noncommercial"
    no_derivatives = "no-derivatives"
    other = "other"
    unknown = "unknown"


RANK: dict[LicenseClass, int] = {
    LicenseClass.permissive: 4,
    LicenseClass.copyleft: 3,
    LicenseClass.restricted: 2,
    LicenseClass.noncommercial: 1,
    LicenseClass.no_derivatives: 0,
}

_EXACT: dict[str, LicenseClass] = {}
for _names, _cls in (
    (
        "apache-2.0 mit afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause "
        "bsd-3-clause-clear cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 "
        "cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 etalab-2.0 isc ms-pl ncsa "
        "unlicense zlib pddl odc-by postgresql openmdw-1.0 ofl-1.1 lppl-1.3c apple-ascl",
        LicenseClass.permissive,
    ),
    (
        "cc-by-sa-3.0 cc-by-sa-4.0 cdla-sharing-1.0 epl-1.0 epl-2.0 eupl-1.1 eupl-1.2 "
        "agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 lgpl-lr mpl-2.0 odbl osl-3.0",
        LicenseClass.copyleft,
    ),
    (
        "openrail openrail++ bigscience-openrail-m creativeml-openrail-m "
        "bigscience-bloom-rail-1.0 bigcode-openrail-m llama2 llama3 llama3.1 llama3.2 "
        "llama3.3 llama4 gemma c-uda tongyi-qianwen qwen",
        LicenseClass.restricted,
    ),
    (
        "fair-noncommercial-research-license h-research intel-research apple-amlr "
        "deepfloyd-if-license",
        LicenseClass.noncommercial,
    ),
    ("other cc", LicenseClass.other),
    ("unknown", LicenseClass.unknown),
):
    _EXACT.update(dict.fromkeys(_names.split(), _cls))


def classify(license_id: str | None) -> LicenseClass:
    """The class of a Hub license id (case-insensitive; unseen names by pattern, else other)."""
    if license_id is None or not license_id.strip():
        return LicenseClass.unknown
    name = license_id.strip().lower()
    if name in _EXACT:
        return _EXACT[name]
    if name.startswith(("cc-by-nd", "cc-by-nc-nd")):
        return LicenseClass.no_derivatives
    if name.startswith("cc-by-nc") or any(
        word in name for word in ("noncommercial", "non-commercial", "research")
    ):
        return LicenseClass.noncommercial
    if name.startswith(("llama", "gemma", "qwen")) or "rail" in name:
        return LicenseClass.restricted
    if name.startswith(("cc-by-sa", "gpl", "agpl", "lgpl")):
        return LicenseClass.copyleft
    return LicenseClass.other


@dataclass(frozen=True)
class LicenseEntry:
    id: str
    depth: int
    license: str | None
    license_class: LicenseClass
    status: str


@dataclass(frozen=True)
class LicenseWarning:
    kind: str  # more_permissive | unknown | other
    model: str
    message: str


@dataclass(frozen=True)
class LicenseAudit:
    model: LicenseEntry
    ancestors: list[LicenseEntry]
    warnings: list[LicenseWarning]

    def to_json(self) -> dict[str, Any]:
        def entry(e: LicenseEntry) -> dict[str, Any]:
            return {
                "id": e.id,
                "depth": e.depth,
                "license": e.license if e.license_class is not LicenseClass.unknown else "unknown",
                "class": e.license_class.value,
                "status": e.status,
            }

        return {
            **entry(self.model),
            "ancestors": [entry(a) for a in self.ancestors],
            "warnings": [
                {"kind": w.kind, "model": w.model, "message": w.message} for w in self.warnings
            ],
        }


def _describe(entry: LicenseEntry) -> str:
    if entry.license_class is LicenseClass.unknown:
        return "unknown"
    return f"{entry.license} ({entry.license_class.value})"


def audit_licenses(session: Session, repo_id: str) -> LicenseAudit:
    """Every ancestor's license, and warnings where the model's license is too permissive.

    Raises:
        EmptyDatabaseError: the database holds no models.
        ModelNotFoundError: ``repo_id`` is not in it.
    """
    require_models(session)
    require_model(session, repo_id)
    lineage = lineage_sql(session, repo_id, direction="up")
    entries = [
        LicenseEntry(
            id=node.id,
            depth=node.depth,
            license=node.facts.get("license"),
            license_class=(
                LicenseClass.unknown if node.unresolved else classify(node.facts.get("license"))
            ),
            status=node.facts.get("status") or "unknown",
        )
        for node in lineage.nodes
    ]
    model = next(e for e in entries if e.id == repo_id)
    ancestors = sorted((e for e in entries if e.id != repo_id), key=lambda e: (e.depth, e.id))
    warnings: list[LicenseWarning] = []
    if model.license_class in (LicenseClass.unknown, LicenseClass.other):
        warnings.append(
            LicenseWarning(
                kind=model.license_class.value,
                model=model.id,
                message=f"{model.id} itself: license {_describe(model)}; read its card",
            )
        )
    for ancestor in ancestors:
        if ancestor.license_class in (LicenseClass.unknown, LicenseClass.other):
            why = "not crawled" if ancestor.status in ("pending", "unresolved") else "read its card"
            warnings.append(
                LicenseWarning(
                    kind=ancestor.license_class.value,
                    model=ancestor.id,
                    message=f"ancestor {ancestor.id}: license {_describe(ancestor)} ({why})",
                )
            )
        elif (
            model.license_class in RANK and RANK[model.license_class] > RANK[ancestor.license_class]
        ):
            warnings.append(
                LicenseWarning(
                    kind="more_permissive",
                    model=ancestor.id,
                    message=(
                        f"{model.id} is {_describe(model)}, more permissive than its ancestor "
                        f"{ancestor.id}: {_describe(ancestor)}"
                    ),
                )
            )
    return LicenseAudit(model=model, ancestors=ancestors, warnings=warnings)
