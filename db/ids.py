"""Hub model id validation: the only gate between untrusted names and anything else.

Hub rules (as enforced by huggingface_hub's validators): ``org/name`` (a bare
``name`` is a legacy form we keep as unresolved), each part 1-96 characters of
letters, digits, ``-``, ``_`` and ``.``, not starting or ending with ``-`` or
``.``, no ``--`` or ``..`` inside.  Nothing that fails here is ever turned into a
file-system path.
"""

from __future__ import annotations

import re

from kinhub.db.errors import InvalidRepoIdError

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^{_PART}/{_PART}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,199}$")


def is_repo_id(value: str) -> bool:
    """True when ``value`` is a syntactically valid ``org/name`` Hub model id."""
    if not isinstance(value, str) or not _REPO_ID.match(value):
        return False
    return ".." not in value and "--" not in value


def validate_repo_id(value: str) -> str:
    """Return ``value`` unchanged when it is a valid ``org/name``; raise otherwise.

    Raises:
        InvalidRepoIdError: naming the offending value.
    """
    if not is_repo_id(value):
        raise InvalidRepoIdError(value)
    return value


def is_revision(value: str) -> bool:
    """True for a plausible git revision (branch, tag or commit sha); no ``..``."""
    return bool(_REVISION.match(value)) and ".." not in value


def split_revision(ref: str) -> tuple[str, str | None]:
    """Split ``org/name@rev`` into ``("org/name", "rev")``; the revision may be absent.

    Raises:
        InvalidRepoIdError: when the id or the revision is invalid.
    """
    repo_id, sep, revision = ref.partition("@")
    validate_repo_id(repo_id)
    if sep and not is_revision(revision):
        raise InvalidRepoIdError(ref, reason="invalid revision")
    return repo_id, (revision if sep else None)
