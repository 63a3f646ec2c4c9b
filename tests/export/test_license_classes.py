"""License classes: Hub license ids and unseen names by pattern."""

from __future__ import annotations

import pytest
from kinhub.db.answers.licenses import RANK, LicenseClass, classify


@pytest.mark.parametrize(
    ("license_id", "expected"),
    [
        ("apache-2.0", LicenseClass.permissive),
        ("Apache-2.0", LicenseClass.permissive),
        ("mit", LicenseClass.permissive),
        ("cc-by-4.0", LicenseClass.permissive),
        ("gpl-3.0", LicenseClass.copyleft),
        ("cc-by-sa-4.0", LicenseClass.copyleft),
        ("llama3.1", LicenseClass.restricted),
        ("llama5", LicenseClass.restricted),
        ("gemma", LicenseClass.restricted),
        ("bigscience-openrail-m", LicenseClass.restricted),
        ("cc-by-nc-4.0", LicenseClass.noncommercial),
        ("cc-by-nc-sa-4.0", LicenseClass.noncommercial),
        ("fair-noncommercial-research-license", LicenseClass.noncommercial),
        ("acme-research-only", LicenseClass.noncommercial),
        ("cc-by-nd-4.0", LicenseClass.no_derivatives),
        ("cc-by-nc-nd-4.0", LicenseClass.no_derivatives),
        ("other", LicenseClass.other),
        ("my-own-terms", LicenseClass.other),
        ("unknown", LicenseClass.unknown),
        ("", LicenseClass.unknown),
        (None, LicenseClass.unknown),
    ],
)
def test_classify(license_id: str | None, expected: LicenseClass) -> None:
    assert classify(license_id) is expected


def test_ranks_order_the_comparable_classes() -> None:
    order = sorted(RANK, key=RANK.__getitem__, reverse=True)
    assert order == [
        LicenseClass.permissive,
        LicenseClass.copyleft,
        LicenseClass.restricted,
        LicenseClass.noncommercial,
        LicenseClass.no_derivatives,
    ]
    assert LicenseClass.other not in RANK and LicenseClass.unknown not in RANK
