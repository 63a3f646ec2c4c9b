"""Read a model's architecture signature from its safetensors headers, and store it.

Only headers are read: from a local folder, from the HF cache when the revision is
already there, else by HTTP Range requests through ``kinhub.hub`` (the header length,
then the header: two small requests per weights file, plus ``config.json`` and the
shard index).  The signature hashes tensor names and shapes (vocabulary rows masked)
and derives layers, hidden size and vocabulary size from the tensors themselves;
the model type comes from ``config.json`` when there is one.  See
``kinhub.db.signatures`` for what is stored and how two signatures compare.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kinhub.db.engine import Database
from kinhub.db.ids import is_repo_id
from kinhub.db.signatures import Signature, find_signature, hash_tensors, save_signature
from kinhub.db.store import get_model
from kinhub.hub import config as hub_config
from kinhub.kinship.errors import KinshipError, ModelSourceError, WeightsFormatError
from kinhub.kinship.weights import ModelWeights, TensorInfo, open_folder

logger = logging.getLogger(__name__)

_EMBEDDINGS = (
    "embed_tokens.weight",
    "wte.weight",
    "word_embeddings.weight",
    "embed_in.weight",
    "tok_embeddings.weight",
)
_LAYER = re.compile(r"\.(?:layers|h|blocks|layer)\.(\d+)\.")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_DTYPE_NAMES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


@dataclass(frozen=True)
class SignatureRead:
    """A signature and the revision it was read at (None for a local folder)."""

    signature: Signature
    revision: str | None


def signature_of(weights: ModelWeights, *, source: str) -> Signature:
    """The signature of an opened model (its header index; no tensor data is read)."""
    tensors = weights.tensors
    config = weights.config or {}
    embed = _embedding(tensors)
    vocab = embed.shape[0] if embed is not None else _int(config.get("vocab_size"))
    hidden = (
        embed.shape[1]
        if embed is not None and len(embed.shape) > 1
        else _int(config.get("hidden_size"))
    )
    layers = {int(m.group(1)) for name in tensors if (m := _LAYER.search(f".{name}"))}
    by_dtype: Counter[str] = Counter()
    for info in tensors.values():
        by_dtype[info.dtype] += info.numel
    signature, exact = hash_tensors(
        {name: (info.shape, info.dtype) for name, info in tensors.items()}, vocab=vocab
    )
    model_type = config.get("model_type")
    return Signature(
        signature=signature,
        exact=exact,
        model_type=model_type if isinstance(model_type, str) else None,
        num_layers=max(layers) + 1 if layers else _int(config.get("num_hidden_layers")),
        hidden_size=hidden,
        vocab_size=vocab,
        dtype=_DTYPE_NAMES.get(by_dtype.most_common(1)[0][0]) if by_dtype else None,
        num_tensors=len(tensors),
        num_parameters=sum(info.numel for info in tensors.values()),
        source=source,
    )


def _embedding(tensors: dict[str, TensorInfo]) -> TensorInfo | None:
    for name in sorted(tensors):
        if name.endswith(_EMBEDDINGS) and len(tensors[name].shape) == 2:
            return tensors[name]
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_signature(
    ref: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    cache_dir: str | None = None,
) -> SignatureRead:
    """Read the signature of a local folder or a Hub repo (at ``revision``, default the
    main branch): the HF cache when it holds that commit, else header Range reads.

    Raises:
        ModelSourceError: no safetensors weights (or the repo cannot be read);
        RemoteReadError, WeightsFormatError, InvalidRepoIdError.
    """
    path = Path(ref)
    if not is_repo_id(ref) and path.is_dir():
        weights = open_folder(path, ref=ref)
        try:
            return SignatureRead(signature_of(weights, source="local"), None)
        finally:
            weights.close()
    if revision and _COMMIT.match(revision):
        root = hub_config.cache_dir(Path(cache_dir) if cache_dir else None)
        snapshot = root / f"models--{ref.replace('/', '--')}" / "snapshots" / revision
        if snapshot.is_dir() and any(snapshot.glob("*.safetensors")):
            weights = open_folder(snapshot, ref=ref)
            try:
                return SignatureRead(signature_of(weights, source="cache"), revision)
            finally:
                weights.close()
    from kinhub.kinship.remote import open_remote

    weights = open_remote(f"{ref}@{revision}" if revision else ref, endpoint=endpoint)
    try:
        return SignatureRead(signature_of(weights, source="range"), weights.revision)
    finally:
        weights.close()


NO_WEIGHTS = "none"  # ``source`` of a row recording that a revision has no weights


def _no_weights() -> Signature:
    return Signature(
        signature="",
        exact="",
        model_type=None,
        num_layers=None,
        hidden_size=None,
        vocab_size=None,
        dtype=None,
        num_tensors=0,
        num_parameters=0,
        source=NO_WEIGHTS,
    )


def _permanent(exc: KinshipError) -> bool:
    """A failure that is a fact about the revision (no safetensors files, a corrupt
    header), not about the Hub being unreachable or gated right now."""
    if isinstance(exc, WeightsFormatError):
        return True
    return isinstance(exc, ModelSourceError) and exc.__cause__ is None


NO_WEIGHTS_REASON = "no readable safetensors weights at this revision"
"""Why a revision known to have no readable weights (none, or corrupt) has no
signature; the detail is logged (``-v``) when it is first found."""


@dataclass(frozen=True)
class SignatureFailure:
    repo_id: str
    reason: str


def ensure_signatures(
    database: Database,
    repo_ids: Iterable[str],
    *,
    endpoint: str | None = None,
    cache_dir: str | None = None,
    max_reads: int | None = None,
) -> tuple[dict[str, Signature], dict[str, SignatureFailure]]:
    """The signature of each stored model at its stored sha: read from the database,
    else from its headers (then stored).  At most ``max_reads`` models are read from
    weights (None: no limit); a model that cannot be read is reported as a failure
    with the reason (no safetensors, gated, …), never raised.
    """
    found: dict[str, Signature] = {}
    failed: dict[str, SignatureFailure] = {}
    reads = 0
    for repo_id in dict.fromkeys(repo_ids):
        with database.session() as session:
            row = get_model(session, repo_id)
            if row is None or row.id is None:
                failed[repo_id] = SignatureFailure(repo_id, "not in the database")
                continue
            model_id, sha = row.id, row.sha
            stored = find_signature(session, model_id=model_id, revision=sha) if sha else None
        if stored is not None and stored.source == NO_WEIGHTS:
            failed[repo_id] = SignatureFailure(repo_id, NO_WEIGHTS_REASON)
            continue
        if stored is not None:
            found[repo_id] = stored
            continue
        if max_reads is not None and reads >= max_reads:
            failed[repo_id] = SignatureFailure(repo_id, "signature not read (read budget spent)")
            continue
        reads += 1
        try:
            got = read_signature(repo_id, revision=sha, endpoint=endpoint, cache_dir=cache_dir)
        except KinshipError as exc:
            reason = str(exc)
            if isinstance(exc, ModelSourceError) and exc.ref and reason.startswith(exc.ref):
                reason = reason[len(exc.ref) + 2 :]
            logger.info("%s: no signature: %s", repo_id, reason)
            permanent = bool(sha) and _permanent(exc)
            # A permanent failure reads the same now as when answered from its stored
            # row later, so two questions about one database get one answer.
            failed[repo_id] = SignatureFailure(repo_id, NO_WEIGHTS_REASON if permanent else reason)
            if sha and permanent:
                # This revision will never have readable weights: remember it, so the
                # next question does not probe the Hub again.
                with database.write_transaction() as session:
                    save_signature(
                        session, model_id=model_id, revision=sha, signature=_no_weights()
                    )
            continue
        with database.write_transaction() as session:
            save_signature(
                session,
                model_id=model_id,
                revision=got.revision or sha or "local",
                signature=got.signature,
            )
        found[repo_id] = got.signature
    return found, failed


__all__ = [
    "SignatureFailure",
    "SignatureRead",
    "ensure_signatures",
    "read_signature",
    "signature_of",
]
