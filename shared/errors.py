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
