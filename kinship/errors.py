"""Typed errors of the kinship engine; each carries the file, tensor or name it is about."""

from __future__ import annotations

from kinhub.db.errors import KinhubError


def _clip(text: str, limit: int = 200) -> str:
    """``text`` on one line (control characters escaped) and at most ``limit`` characters."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else f"{out[: limit - 3]}..."


class KinshipError(KinhubError):
    """Base of every error the kinship engine raises on purpose."""


class ModelSourceError(KinshipError):
    """A model reference could not be resolved to weights (no folder, no repo, no files)."""

    def __init__(self, ref: str, reason: str) -> None:
        self.ref = ref
        super().__init__(f"{ref}: {reason}")


class PickleRefusedError(KinshipError):
    """The model only has pickle checkpoints and ``allow_pickle`` was not given."""

    def __init__(self, ref: str, files: list[str]) -> None:
        self.ref = ref
        self.files = files
        super().__init__(
            f"{ref}: only pickle checkpoints ({', '.join(files)}); pickle can run arbitrary "
            "code, pass allow_pickle=True (CLI --allow-pickle) to load them with "
            "torch.load(weights_only=True)"
        )


class WeightsFormatError(KinshipError):
    """A weights file is corrupt, truncated or not in a supported format."""

    def __init__(self, file: str, reason: str, *, tensor: str | None = None) -> None:
        self.file = file
        self.tensor = tensor
        # Names come from hostile headers: shown escaped (one line) and cut to a length.
        shown = repr(tensor) if tensor else ""
        shown = shown if len(shown) <= 120 else f"{shown[:117]}..."
        where = f"{_clip(file)} (tensor {shown})" if tensor else _clip(file)
        super().__init__(f"{where}: {reason}")


class RemoteReadError(KinshipError):
    """A byte range or file size could not be fetched from the Hub (network or HTTP error)."""

    def __init__(self, repo_id: str, file: str, reason: str) -> None:
        self.repo_id = repo_id
        self.file = file
        super().__init__(f"{repo_id}/{file}: {reason}")


class UnsupportedDtypeError(WeightsFormatError):
    """A tensor has a dtype the engine does not read (only BF16, F16, F32)."""


class UnknownMetricError(KinshipError, LookupError):
    """A metric name is not in the registry."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown metric {name!r}; known metrics: {', '.join(known)}")


class PlanError(KinshipError):
    """The three models share nothing comparable, or a convention cannot be applied."""


class DeviceUnavailableError(KinshipError):
    """The requested compute device is not available here."""
