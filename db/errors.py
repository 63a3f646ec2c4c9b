"""Exception tree shared by every kinhub layer (the CLI maps these to exit codes)."""

from __future__ import annotations


class KinhubError(Exception):
    """Base of every error kinhub raises on purpose."""


class InvalidRepoIdError(KinhubError, ValueError):
    """A string that is not a valid Hub model id was used where one is required."""

    def __init__(self, value: str, *, reason: str = "not a valid 'org/name' model id") -> None:
        self.value = value
        super().__init__(f"{value!r}: {reason}")


class DatabaseError(KinhubError):
    """The database could not be opened, migrated or queried."""


class ModelNotFoundError(KinhubError, LookupError):
    """A model id is not in the database."""

    def __init__(self, repo_id: str) -> None:
        self.repo_id = repo_id
        super().__init__(f"model {repo_id!r} is not in the database")


class LockHeldError(KinhubError):
    """Another run holds the named database lock."""

    def __init__(self, name: str, owner: str | None = None) -> None:
        self.name = name
        self.owner = owner
        super().__init__(f"lock {name!r} is held" + (f" by {owner}" if owner else ""))
