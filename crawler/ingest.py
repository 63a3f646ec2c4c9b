"""Reading a local model folder (what mergekit writes) into a ModelRecord.

Users track their own merges this way, and tests build genealogies with it.
Only the folder given is read; nothing a card or recipe says becomes a path.  Only
regular files whose real location is inside the folder are read: a symlink out of it
(a README linking to a key file, a config linking to ``/etc/passwd``) is skipped with
a warning, as is anything that is not a regular file (a FIFO, a device).  The one
exception is a Hugging Face cache snapshot (``…/snapshots/<sha>/``), whose files are
links into the same cache's ``blobs/`` folder.
The record is built by :func:`kinhub.crawler.record.build_record`, as a crawled
one is; storing it and queueing its kinship jobs is ``kinhub.pipeline.ingest``'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

from kinhub.crawler import version
from kinhub.crawler.errors import LocalModelError
from kinhub.crawler.hfconfig import architecture_facts
from kinhub.crawler.record import CONFIG_NAMES, BuiltRecord, build_record
from kinhub.db.ids import validate_repo_id
from kinhub.db.records import ModelRecord, SourceTexts
from safetensors import safe_open

logger = logging.getLogger(__name__)

MAX_TEXT_BYTES = 8 * 1024 * 1024
# Files above this size are fingerprinted by size and first MiB, not hashed whole.
FULL_HASH_LIMIT = 64 * 1024 * 1024


def _hf_cache_blobs(root: Path) -> Path | None:
    """The ``blobs`` folder of the Hugging Face cache ``root`` is a snapshot of, if any."""
    if root.parent.name == "snapshots" and (root.parent.parent / "blobs").is_dir():
        return root.parent.parent / "blobs"
    return None


def local_file(folder: Path, path: Path, *, warn: bool = True) -> Path | None:
    """``path`` when it may be read as part of ``folder``: a regular file whose real
    location (links followed) is inside the folder, or in the ``blobs`` of the Hugging
    Face cache the folder is a snapshot of.  None when it does not exist, links out of
    the folder, or is not a regular file — the last two with a warning when ``warn``."""
    if not path.is_symlink() and not path.exists():
        return None
    root = folder.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link or a loop
        if warn:
            logger.warning("%s: skipped, a broken symlink", path)
        return None
    blobs = _hf_cache_blobs(root)
    if not (real.is_relative_to(root) or (blobs is not None and real.is_relative_to(blobs))):
        if warn:
            logger.warning("%s: skipped, it links out of the folder %s", path, folder)
        return None
    try:
        regular = stat.S_ISREG(real.stat().st_mode)
    except OSError:
        regular = False
    if not regular:
        if warn:
            logger.warning("%s: skipped, not a regular file", path)
        return None
    return path


def _read_text(folder: Path, name: str) -> str | None:
    path = local_file(folder, folder / name)
    if path is None:
        return None
    with path.open("rb") as handle:
        return handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")


def folder_sha(folder: Path) -> str:
    """A stable content fingerprint of the folder (40 hex, like a git sha): the files
    :func:`folder_files` lists that :func:`local_file` lets be read."""
    digest = hashlib.sha1()
    for rel in sorted(folder_files(folder), key=lambda name: name.split("/")):
        path = local_file(folder, folder / rel, warn=False)
        if path is None:
            continue
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        file_digest = hashlib.sha1()
        with path.open("rb") as handle:
            if size > FULL_HASH_LIMIT:
                file_digest.update(handle.read(1024 * 1024))
            else:
                for block in iter(lambda: handle.read(1024 * 1024), b""):
                    file_digest.update(block)
        digest.update(file_digest.digest())
    return digest.hexdigest()


def folder_files(folder: Path) -> list[str]:
    """The folder's file names as the Hub lists a repo's (``siblings``): paths relative
    to ``folder`` with ``/``, sorted; the parser tells an adapter from full weights by
    them.  Hidden entries (``.git``, ``.cache``) are left out, as :func:`folder_sha`
    leaves them out.  A symlinked directory is never entered, so no name from outside
    the folder is listed; a symlink to a file counts by its own name (a Hugging Face
    cache snapshot is made of them) and its target is not read."""
    names: list[str] = []
    stack = [("", folder)]
    while stack:
        prefix, directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            logger.warning("cannot list %s: %s", directory, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((rel + "/", Path(entry.path)))
            elif entry.is_file(follow_symlinks=False) or (
                entry.is_symlink() and entry.is_file(follow_symlinks=True)
            ):
                names.append(rel)
    return sorted(names)


def parameter_count(folder: Path) -> int | None:
    """Parameters declared by the folder's safetensors headers (no weights read)."""
    files = [
        path
        for path in sorted(folder.glob("*.safetensors"))
        if local_file(folder, path, warn=False) is not None
    ]
    if not files:
        return None
    total = 0
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                    count = 1
                    for dim in handle.get_slice(name).get_shape():
                        count *= dim
                    total += count
        except Exception as exc:  # safetensors raises several unrelated types
            logger.warning("cannot read safetensors header of %s: %s", path.name, exc)
            return None
    return total


def read_local_model(folder: Path, *, repo_id: str) -> BuiltRecord:
    """Facts and edges of the model in ``folder``, recorded as ``repo_id``, with what
    the parser warned about.

    Raises:
        InvalidRepoIdError: ``repo_id`` is not ``org/name``.
        LocalModelError: ``folder`` is not a readable directory.
    """
    validate_repo_id(repo_id)
    if not folder.is_dir():
        raise LocalModelError(folder, "not a directory")
    card_text = _read_text(folder, "README.md")
    config_name = next(
        (name for name in CONFIG_NAMES if local_file(folder, folder / name) is not None), None
    )
    config_text = _read_text(folder, config_name) if config_name else None
    config_json = _read_text(folder, "config.json")
    try:
        hf_config = json.loads(config_json) if config_json else None
    except json.JSONDecodeError:
        logger.warning("%s: config.json is not valid JSON", repo_id)
        hf_config = None
    return build_record(
        known=ModelRecord(
            repo_id=repo_id,
            sha=folder_sha(folder),
            status="ok",
            num_parameters=parameter_count(folder),
        ),
        texts=SourceTexts(
            card_text=card_text,
            config_name=config_name,
            config_text=config_text,
            files=folder_files(folder),
        ),
        architecture=architecture_facts(hf_config),
        parser_version=version.PARSER_VERSION,
    )
