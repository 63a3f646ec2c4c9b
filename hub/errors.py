"""The Hub's error tree: every failure to reach or read the Hub is one of these."""

from __future__ import annotations

from kinhub.db.errors import KinhubError


class HubError(KinhubError):
    """The Hub could not be reached or kept failing after every retry."""

    def __init__(self, message: str, *, repo_id: str | None = None) -> None:
        self.repo_id = repo_id
        super().__init__(f"{repo_id}: {message}" if repo_id else message)


class HubUnreachableError(HubError):
    """The Hub's endpoint did not answer at all (refused, unknown host, no connection)
    through every retry: nothing read from it can work until it is back."""

    def __init__(self, message: str, *, endpoint: str, repo_id: str | None = None) -> None:
        self.endpoint = endpoint
        super().__init__(message, repo_id=repo_id)


class RepoUnavailableError(HubError):
    """A repo (or one of its files) cannot be read; ``status`` is what the db records.

    ``status`` is one of ``not_found``, ``gated``, ``private`` or ``error``.
    """

    def __init__(self, repo_id: str, status: str, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}", repo_id=repo_id)


def no_connection(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps: a download's LocalEntryNotFoundError) is a
    failure to connect at all, as opposed to a slow or broken answer."""
    import httpx2  # here: importing the error tree must stay light

    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, httpx2.ConnectError | httpx2.ConnectTimeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
