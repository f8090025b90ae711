"""Domain errors, raised by services' domain and handlers, mapped to HTTP in one place.

Each class has a stable `code`: the last part of the problem `type` URI in the RFC 9457
body (shared/http.py), so clients can branch on it without parsing messages.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a rule: 422, with the field at fault when there is one."""

    status = 422
    code = "validation-error"
    title = "The request is invalid"

    def __init__(self, message: str, *, field: str | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.context = context


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class Gone(DomainError):
    """The record existed and was erased (PDPA): only a tombstone remains."""

    status = 410
    code = "gone"
    title = "Gone"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload-too-large"
    title = "The request body is too large"


class TooManyRequests(DomainError):
    """A client over its rate limit: 429 with Retry-After (seconds)."""

    status = 429
    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


# Seconds a client is told to wait when the database is out: a failover's usual length.
UNAVAILABLE_RETRY_AFTER = 5


def database_unavailable(error: BaseException) -> bool:
    """The database (or the network to it) is out, not the request at fault: a 503 with
    Retry-After, which clients retry, rather than a 500. Import-light on purpose: the
    SQLAlchemy and asyncpg classes are looked up only when an error is being mapped."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    try:
        from asyncpg.exceptions import ConnectionDoesNotExistError
        from asyncpg.exceptions import InterfaceError as PgInterface
    except ImportError:  # SQLite-only install
        pass
    else:
        if isinstance(error, ConnectionDoesNotExistError | PgInterface):
            return True
    # Refused, reset or timed out on the way to the database (OSError covers ConnectionError).
    return isinstance(error, OSError | TimeoutError)
