"""PDPA subject access across the services: one document for one person.

The registry's export of its own part (`GET /people/{id}/export`) and each other service's
`GET /people/{id}/held`, called with one operator key, each part marked with its service.
A service that cannot be reached, or answers an error, is reported in the document as
such; nothing is left out silently. The dashboard holds no person data (decision 0017): its
part says so without a call.

Gathered here, by the operator's CLI, and not by the registry: the registry would otherwise
need every other service's URL and an admin key of each, a new trust path between services
that never call each other over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

# Which route answers for which service; the dashboard is not asked (decision 0017).
ROUTES = {
    "registry": "/people/{person_id}/export",
    "training": "/people/{person_id}/held",
    "certification": "/people/{person_id}/held",
    "funding": "/people/{person_id}/held",
}
NO_PERSONAL_DATA = {"holds_personal_data": False, "why": "docs/decisions/0017"}


async def part(http: httpx.AsyncClient, service: str, url: str, person_id: str) -> dict[str, Any]:
    """One service's part: {"service", "state": held|erased|unknown|unreachable|error, ...}."""
    path = ROUTES[service].format(person_id=person_id)
    try:
        response = await http.get(f"{url.rstrip('/')}{path}")
    except httpx.TransportError as error:
        return {"service": service, "state": "unreachable", "url": url, "error": repr(error)}
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text[:500]
    if response.status_code == 410:  # the registry's tombstone: the person was erased
        erased_at = body.get("erased_at") if isinstance(body, dict) else None
        return {
            "service": service,
            "state": "erased",
            "held": {"erased": True, "erased_at": erased_at},
        }
    if response.status_code == 404:
        return {"service": service, "state": "unknown", "error": body}
    if response.status_code != 200 or not isinstance(body, dict):
        return {"service": service, "state": "error", "status": response.status_code, "error": body}
    state = "erased" if body.get("erased") is True else "held"
    return {"service": service, "state": state, "held": body}


async def gather(
    urls: Mapping[str, str],
    key: str,
    person_id: str,
    *,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """The person's export: every service's part, asked side by side."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport) as http:
        parts = await asyncio.gather(
            *(part(http, service, urls[service], person_id) for service in ROUTES)
        )
    dashboard = {"service": "dashboard", "state": "none", **NO_PERSONAL_DATA}
    return {
        "person_id": person_id,
        "exported_at": datetime.now(UTC).isoformat(),
        "complete": all(p["state"] in ("held", "erased", "unknown") for p in parts),
        "parts": [*parts, dashboard],
    }
