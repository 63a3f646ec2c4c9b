"""``KinshipResult``: one computed (or cached) kinship measurement, as the engine, the
sampler and the database layer exchange it (its own module so that ``engine`` and
``sampled`` both use it without importing each other)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The note of a stored sampled request that was computed exactly (the figures of the
#: fresh note are not stored).
FALLBACK_NOTE = "computed exactly: sampling could not save bytes on these models"


@dataclass
class KinshipResult:
    """One computed (or cached) kinship measurement."""

    a: str
    b: str
    base: str
    metrics: dict[str, Any]
    params_compared: int
    bytes_read: int
    seconds: float
    dropped: dict[str, Any]
    mode: str = "exact"
    convention: str = "native"
    revisions: dict[str, str | None] = field(default_factory=dict)
    intervals: dict[str, Any] = field(default_factory=dict)
    sample_fraction: float | None = None
    seed: int | None = None
    breakdown: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    #: Why the values are not what was asked, e.g. a sample computed exactly instead.
    note: str | None = None

    @property
    def sampled(self) -> bool:
        """Whether the values are estimates from a sample (``mode == "sampled"``)."""
        return self.mode == "sampled"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sampled": self.sampled}
