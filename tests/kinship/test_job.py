"""One kinship job's failure, classified: which errors are permanent (the job fails at
once with its reason) and which are worth another attempt."""

from __future__ import annotations

import pytest
from kinhub.hub.errors import HubError, RepoUnavailableError
from kinhub.kinship.errors import ModelSourceError, PlanError, WeightsFormatError
from kinhub.kinship.job import JobInputError, classify


def _chain(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


def _unavailable(status: str) -> Exception:
    return _chain(
        ModelSourceError("o/x", "cannot download"), RepoUnavailableError("o/x", status, "r")
    )


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (_unavailable("not_found"), True),
        (_unavailable("gated"), True),
        (_unavailable("private"), True),
        (_unavailable("error"), False),
        (_chain(ModelSourceError("o/x", "download failed"), HubError("gave up")), False),
        (HubError("gave up"), False),
        (WeightsFormatError("model.safetensors", "truncated"), True),
        (PlanError("nothing comparable"), True),
        (JobInputError("architectures do not match"), True),
        (ModelSourceError("o/x", "no safetensors or checkpoint files found"), True),
        (ConnectionResetError("reset"), False),
        (RuntimeError("surprise"), False),
    ],
)  # fmt: skip
def test_which_failures_are_permanent(error: Exception, permanent: bool) -> None:
    got, reason = classify(error)
    assert got is permanent
    assert reason and "\n" not in reason
