"""What every service client shares: the key header, retrying calls, errors as exceptions.

A client (one class per service, each a `ServiceClient`) wraps an `httpx.AsyncClient` and
the service's base URL. The caller may pass a client it built (with `session` or
`auth_headers`), which it then closes itself, or let `connect` build one the service client
owns and closes on leaving `async with`. No client module imports another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

Json = dict[str, Any]
OK = (200, 201)
RETRY_FOR = 120.0  # seconds a call retries while its service is unreachable (a restart)


class ApiError(RuntimeError):
    """A service answered something the caller cannot go on from."""


class Problem(ApiError):
    """An error answer, with its RFC 9457 problem details when the body is one (every
    service's errors are): what the CLI shows an operator instead of a raw body."""

    def __init__(self, message: str, status: int, body: Json | None) -> None:
        super().__init__(message)
        self.status = status
        body = body or {}
        self.title = str(body.get("title") or "")
        self.detail = str(body.get("detail") or "")
        self.type = str(body.get("type") or "")
        self.errors: list[Json] = [e for e in body.get("errors") or [] if isinstance(e, dict)]

    def lines(self) -> list[str]:
        """Readable: the status and title, the detail, then each field's complaint."""
        head = f"{self.status} {self.title}".strip()
        out = [head if not self.detail or self.detail == self.title else f"{head}: {self.detail}"]
        for error in self.errors:
            field = error.get("field") or error.get("pointer") or ""
            out.append(f"  - {field}: {error.get('detail') or error.get('message') or error}")
        return out


def auth_headers(key: str) -> dict[str, str]:
    """The operator or partner key as every service reads it."""
    return {"Authorization": f"Bearer {key}"}


def session(base_url: str, key: str, **options: Any) -> httpx.AsyncClient:
    """A client of one service, carrying its key (the caller closes it)."""
    return httpx.AsyncClient(base_url=base_url, headers=auth_headers(key), **options)


def retry_deadline(retry_for: float) -> float:
    """When a call started now stops retrying."""
    return time.monotonic() + retry_for


class ServiceClient:
    """One service's API. `url` is prefixed to every path; it is "" when the httpx client
    carries the base URL itself (`connect`, or an in-process ASGI transport)."""

    def __init__(self, http: httpx.AsyncClient, url: str = "") -> None:
        self.http = http
        self.url = url
        self._owns_http = False

    @classmethod
    def connect(cls, base_url: str, key: str, **options: Any) -> Self:
        """A client of its own, carrying `key`; `async with` closes it."""
        client = cls(session(base_url, key, **options))
        client._owns_http = True
        return client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._owns_http:  # a caller's client is the caller's to close
            await self.http.aclose()

    @staticmethod
    def problem(response: httpx.Response) -> str:
        """The status and the problem details' `detail` (or the body) in one line."""
        try:
            body = response.json()
        except ValueError:
            return f"HTTP {response.status_code}: {response.text[:500]}"
        return f"HTTP {response.status_code}: {body.get('detail') or body}"

    @staticmethod
    def expect(response: httpx.Response, *ok: int) -> Json:
        """The JSON body when the status is one of `ok`; otherwise ApiError naming the call."""
        if response.status_code not in ok:
            try:
                problem = response.json()
            except ValueError:
                problem = None
            raise Problem(
                f"{response.request.method} {response.request.url} -> {response.status_code}: "
                f"{response.text[:500]}",
                response.status_code,
                problem if isinstance(problem, dict) else None,
            )
        body: Json = response.json() if response.content else {}
        return body

    async def _get(self, path: str, deadline: float) -> httpx.Response:
        """GET, retrying while the service is unreachable, until `deadline`."""
        delay = 0.05
        while True:
            try:
                return await self.http.get(f"{self.url}{path}")
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _post(
        self,
        path: str,
        body: Mapping[str, Any] | None,
        deadline: float,
        *,
        retry_404: bool = False,
    ) -> httpx.Response:
        """POST, retrying while the service is unreachable (restarting) or, if asked, while
        it has not replicated what the body names yet (404). Past `deadline` the last answer
        (or transport error) is the caller's."""
        delay = 0.05
        while True:
            try:
                response = await self.http.post(f"{self.url}{path}", json=body)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                if not (retry_404 and response.status_code == 404) or time.monotonic() > deadline:
                    return response
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
