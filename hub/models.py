"""What the Hub says about models, as kinhub's own frozen dataclasses.

Built from ``huggingface_hub``'s ``ModelInfo`` by :meth:`HubModel.from_info`, which
reads its attributes only (this module does not import the client: ``hub/client.py``
is the one module that does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kinhub.db.timeutil import to_utc


@dataclass(frozen=True)
class HubModel:
    """One model as the Hub describes it (listing item or ``model_info``)."""

    repo_id: str
    sha: str | None
    created_at: datetime | None = None
    last_modified: datetime | None = None
    tags: tuple[str, ...] = ()
    files: tuple[str, ...] | None = None  # None: the answer did not list files
    downloads: int | None = None
    likes: int | None = None
    gated: str | None = None  # "auto" / "manual"; None when not gated
    private: bool = False
    library_name: str | None = None
    pipeline_tag: str | None = None
    config: dict[str, Any] | None = None
    num_parameters: int | None = None
    card_data: dict[str, Any] = field(default_factory=dict)
    # The Hub's object id (``_id``): it stays when the repo is renamed.
    hub_id: str | None = None

    @classmethod
    def from_info(cls, info: Any) -> HubModel:
        """Map the client's ``ModelInfo`` (camelCase already converted) onto ours.

        ``info`` is typed ``Any`` so that this module need not import the client.
        """
        gated = info.gated if isinstance(info.gated, str) and info.gated else None
        total = info.safetensors.total if info.safetensors is not None else None
        card = info.card_data.to_dict() if info.card_data is not None else {}
        return cls(
            repo_id=info.id,
            sha=info.sha,
            created_at=to_utc(info.created_at),
            last_modified=to_utc(info.last_modified),
            tags=tuple(t for t in info.tags or () if isinstance(t, str)),
            files=tuple(s.rfilename for s in info.siblings) if info.siblings is not None else None,
            downloads=info.downloads,
            likes=info.likes,
            gated=gated,
            private=bool(info.private),
            library_name=info.library_name,
            pipeline_tag=info.pipeline_tag,
            config=info.config if isinstance(info.config, dict) else None,
            num_parameters=total if isinstance(total, int) else None,
            card_data=card if isinstance(card, dict) else {},
            hub_id=hub_id if isinstance(hub_id := getattr(info, "_id", None), str) else None,
        )


@dataclass(frozen=True)
class MalformedItem:
    """A listing item the client could not read (a wrong type, a missing key): the
    page goes on without it; ``repo_id`` (when the item had a readable one) lets the
    caller ask ``model_info`` instead."""

    repo_id: str | None
    error: str


@dataclass(frozen=True)
class ListingPage:
    """One page of ``/api/models``; ``url`` is the link actually fetched (its
    ``limit`` may be smaller than asked when the Hub timed out on a heavy page) and
    ``next_url`` the absolute link to the next one."""

    url: str
    models: list[HubModel]
    next_url: str | None
    malformed: list[MalformedItem] = field(default_factory=list)
