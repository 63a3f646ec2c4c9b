"""The names kinship's choices go by: partner metrics and strategies, compute modes,
worker modes, devices and the merge methods kinhub writes configs for — each list,
and its default, defined once.

Standard library only, so the command line offers these choices (and ``--help``
lists them) without importing the kinship service, the database layer or torch.
The modules that act on a choice (:mod:`kinhub.kinship.partners`,
:mod:`kinhub.kinship.job`, :mod:`kinhub.kinship.execute`,
:mod:`kinhub.kinship.emit`) read it from here.
"""

from __future__ import annotations

from typing import Literal, get_args

PartnerMetric = Literal["pcc", "cs", "ed"]
"""The metrics partner ranking and merge planning can rank by (``ed`` is a distance)."""
PARTNER_METRICS: tuple[PartnerMetric, ...] = get_args(PartnerMetric)
DEFAULT_PARTNER_METRIC: PartnerMetric = "pcc"

Strategy = Literal["explore", "balanced"]
"""How partners are ranked: the paper's exploration, or evaluation and kinship balanced."""
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
DEFAULT_STRATEGY: Strategy = "explore"

Compute = Literal["none", "sampled", "exact"]
"""What a partner search does with a kinship not stored yet: queue it, or measure it now."""
COMPUTE_MODES: tuple[Compute, ...] = get_args(Compute)
DEFAULT_COMPUTE: Compute = "sampled"

WorkerMode = Literal["auto", "exact", "sampled", "sketch"]
"""How the kinship worker measures a job (``auto``: exactly up to a size, then sampled,
from stored per-model sketches above another; ``sketch``: always from sketches)."""
WORKER_MODES: tuple[WorkerMode, ...] = get_args(WorkerMode)
DEFAULT_WORKER_MODE: WorkerMode = "auto"

Device = Literal["cpu", "cuda", "auto"]
"""Where kinship is computed (``auto``: CUDA when available)."""
DEVICES: tuple[Device, ...] = get_args(Device)
DEFAULT_DEVICE: Device = "cpu"

EmitMethod = Literal[
    "slerp", "linear", "ties", "dare_ties", "task_arithmetic", "della", "model_stock"
]
"""The merge methods :func:`kinhub.kinship.emit.emit_yaml` writes mergekit configs for."""
EMIT_METHODS: tuple[EmitMethod, ...] = get_args(EmitMethod)
