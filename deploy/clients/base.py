"""What every service client shares: the key header, retrying calls, errors as exceptions.

A client module takes an `httpx.AsyncClient` the caller built (with `session` or
`auth_headers`) and the service's base URL; no client imports another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

Json = dict[str, Any]
OK = (200, 201)
RETRY_FOR = 120.0  # seconds a call retries while its service is unreachable (a restart)


class ApiError(RuntimeError):
    """A service answered something the caller cannot go on from."""


def auth_headers(key: str) -> dict[str, str]:
    """The operator or partner key as every service reads it."""
    return {"Authorization": f"Bearer {key}"}


def session(base_url: str, key: str, **options: Any) -> httpx.AsyncClient:
    """A client of one service, carrying its key (the caller closes it)."""
    return httpx.AsyncClient(base_url=base_url, headers=auth_headers(key), **options)


def problem(response: httpx.Response) -> str:
    """The status and the problem details' `detail` (or the body) in one line."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    return f"HTTP {response.status_code}: {body.get('detail') or body}"


def expect(response: httpx.Response, *ok: int) -> Json:
    """The JSON body when the status is one of `ok`; otherwise ApiError naming the call."""
    if response.status_code not in ok:
        raise ApiError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    body: Json = response.json() if response.content else {}
    return body


def retry_deadline(retry_for: float) -> float:
    """When a call started now stops retrying."""
    return time.monotonic() + retry_for


async def get(client: httpx.AsyncClient, url: str, deadline: float) -> httpx.Response:
    """GET, retrying while the service is unreachable, until `deadline`."""
    delay = 0.05
    while True:
        try:
            return await client.get(url)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, Any] | None,
    deadline: float,
    *,
    retry_404: bool = False,
) -> httpx.Response:
    """POST, retrying while the service is unreachable (restarting) or, if asked, while it
    has not replicated what the body names yet (404). Past `deadline` the last answer (or
    transport error) is the caller's."""
    delay = 0.05
    while True:
        try:
            response = await client.post(url, json=body)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        else:
            if not (retry_404 and response.status_code == 404) or time.monotonic() > deadline:
                return response
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
