"""Domain errors, raised by services' domain and handlers, mapped to HTTP in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule: 422, with the field at fault when there is one."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.context = context


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Gone(DomainError):
    """The record existed and was erased (PDPA): only a tombstone remains."""

    status = 410


class TooManyRequests(DomainError):
    """A client over its rate limit: 429 with Retry-After (seconds)."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
