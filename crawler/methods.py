"""The merge methods a recipe can name, and what each does with its ``base_model``.

The role of a parent follows what the method does with it, not where the
reference is written.  Each entry declares how the method uses ``base_model``
(read from mergekit's source, see :data:`METHODS`):

* ``anchor`` — required and subtracted: the other models become task vectors
  against it (task arithmetic and its family, SCE, RAM, Model Stock);
* ``optional_anchor`` — optional, and subtracted when given (NuSLERP,
  Multi-SLERP operate on task vectors when a base is set);
* ``input`` — required, and one of the models whose weights are combined
  (SLERP, NearSwap and Arcee Fusion interpolate or select between the base and
  one other model; mergekit-moe takes every non-expert weight from it);
* ``unused`` — the method ignores it; mergekit then adds it to the merged
  models of a ``models:`` recipe (linear, Karcher mean, passthrough).

and whether the method stacks layer ranges (passthrough: a frankenmerge).

Everything here is pure: names in, declarations out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from kinhub.db.errors import KinhubError

BaseUse = Literal["anchor", "optional_anchor", "input", "unused"]
Tool = Literal["mergekit", "mergekit-moe"]


@dataclass(frozen=True)
class MergeMethod:
    """One merge method and its declared behaviour."""

    name: str
    pretty_name: str
    reference_url: str
    base_use: BaseUse
    stacks_layers: bool = False
    base_apart: bool = False
    """mergekit refuses a ``base_model`` that is also one of the models merged."""
    tool: Tool = "mergekit"
    removed: bool = False
    """Shipped by an older mergekit release only (kept: old cards still name it)."""

    @property
    def subtracts_base(self) -> bool:
        """True when a ``base_model`` the recipe gives is a task-vector anchor."""
        return self.base_use in ("anchor", "optional_anchor")


def _gta(name: str, pretty: str, url: str, *, removed: bool = False) -> MergeMethod:
    """A method of mergekit's generalized task arithmetic (subtracts the base)."""
    return MergeMethod(name, pretty, url, "anchor", removed=removed)


_TASK_ARITHMETIC = "https://arxiv.org/abs/2212.04089"
_TIES = "https://arxiv.org/abs/2306.01708"
_DARE = "https://arxiv.org/abs/2311.03099"
_BREADCRUMBS = "https://arxiv.org/abs/2312.06795"
_DELLA = "https://arxiv.org/abs/2406.11617"
_RAM = "https://arxiv.org/abs/2601.13572"
_CONSENSUS = "https://arxiv.org/abs/2405.07813"

METHODS: tuple[MergeMethod, ...] = (
    # mergekit/merge_methods/registry.py (STATIC_MERGE_METHODS)
    MergeMethod("linear", "Linear", "https://arxiv.org/abs/2203.05482", "unused"),
    MergeMethod("slerp", "SLERP", "https://en.wikipedia.org/wiki/Slerp", "input"),
    MergeMethod(
        "nuslerp",
        "NuSLERP",
        "https://github.com/arcee-ai/mergekit",
        "optional_anchor",
        base_apart=True,
    ),
    MergeMethod(
        "passthrough",
        "Passthrough",
        "https://github.com/arcee-ai/mergekit",
        "unused",
        stacks_layers=True,
    ),
    MergeMethod("model_stock", "Model Stock", "https://arxiv.org/abs/2403.19522", "anchor"),
    MergeMethod("arcee_fusion", "Arcee Fusion", "https://arcee.ai", "input"),
    MergeMethod("karcher", "Karcher Mean", "https://en.wikipedia.org/wiki/Karcher_mean", "unused"),
    _gta("task_arithmetic", "Task Arithmetic", _TASK_ARITHMETIC),
    _gta("ties", "TIES", _TIES),
    _gta("dare_ties", "DARE TIES", _DARE),
    _gta("dare_linear", "Linear DARE", _DARE),
    _gta("breadcrumbs", "Model Breadcrumbs", _BREADCRUMBS),
    _gta("breadcrumbs_ties", "Model Breadcrumbs with TIES", _BREADCRUMBS),
    _gta("della", "DELLA", _DELLA),
    _gta("della_linear", "Linear DELLA", _DELLA),
    # registered by @merge_method (mergekit/merge_methods/easy_define.py users)
    MergeMethod(
        "multislerp",
        "Multi-SLERP",
        "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
        "optional_anchor",
    ),
    MergeMethod(
        "nearswap",
        "NearSwap",
        "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
        "input",
    ),
    MergeMethod("ram", "Reinforced Agent Merging", _RAM, "anchor"),
    MergeMethod("ramplus_tl", "Reinforced Agent Merging Plus (Tensor-Local)", _RAM, "anchor"),
    MergeMethod("sce", "SCE", "https://arxiv.org/abs/2408.07990", "anchor"),
    # removed from mergekit in Feb 2025 (a2dda31); cards made before still name them
    _gta("consensus_ta", "Consensus Task Arithmetic", _CONSENSUS, removed=True),
    _gta("consensus_ties", "Consensus TIES", _CONSENSUS, removed=True),
    # mergekit-moe (mergekit_moe_config.yml): experts plus the base that gives
    # every non-expert weight
    MergeMethod(
        "moe",
        "Mixture of Experts",
        "https://github.com/arcee-ai/mergekit/blob/main/docs/moe.md",
        "input",
        tool="mergekit-moe",
    ),
)

_BY_NAME: dict[str, MergeMethod] = {m.name: m for m in METHODS}


class UnknownMergeMethodError(KinhubError, KeyError):
    """A merge method name the registry does not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.known = sorted(_BY_NAME)
        super().__init__(f"unknown merge method {name[:100]!r}; known: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _key(name: str) -> str:
    return name.strip().lower()


def find_method(name: str | None) -> MergeMethod | None:
    """The registry entry for ``name`` (case and surrounding blanks ignored), or
    ``None`` when the name is unknown or missing.  Never raises."""
    if not isinstance(name, str):
        return None
    return _BY_NAME.get(_key(name))


def get_method(name: str) -> MergeMethod:
    """The registry entry for ``name``.

    Raises:
        UnknownMergeMethodError: the name is not a known method (lists the known ones).
    """
    method = find_method(name)
    if method is None:
        raise UnknownMergeMethodError(name)
    return method


def is_anchor_method(name: str | None) -> bool | None:
    """Whether method ``name`` subtracts a given ``base_model`` (a task-vector anchor);
    ``None`` when the method is unknown."""
    method = find_method(name)
    return None if method is None else method.subtracts_base


class _MethodAndBase(Protocol):
    @property
    def merge_method(self) -> str | None: ...

    @property
    def base_model(self) -> str | None: ...


def anchor_of(recipe: _MethodAndBase) -> str | None:
    """The base a merge subtracts — what kinship of its ingredients is measured
    against — or ``None`` when the method has no anchor, is unknown, or the recipe
    gives no base model (a base that is an earlier stage is no model either).

    Takes anything with ``merge_method`` and ``base_model``: a parsed recipe or
    stage, a parse result, or a stored recipe record.
    """
    base = recipe.base_model
    if not base or not is_anchor_method(recipe.merge_method):
        return None
    return base
