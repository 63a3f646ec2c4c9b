"""The metrics the merge-gain analysis correlates, defined once for the query and the CLI.

Standard library only: ``kinhub analyze gain --help`` offers them without importing
the ORM.  They are the kinship columns :mod:`kinhub.db.answers.gain` reads.
"""

from __future__ import annotations

from typing import Literal, get_args

GainMetric = Literal["cs", "pcc", "ed"]
GAIN_METRICS: tuple[GainMetric, ...] = get_args(GainMetric)
