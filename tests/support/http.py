"""HTTP assertions and in-process clients of a service's app."""

from __future__ import annotations

from typing import Any

import httpx

from shared.runtime import Service


def ok(response: httpx.Response, *status: int) -> Any:
    """The JSON body, once the response has one of the expected statuses."""
    assert response.status_code in status, f"{response.status_code}: {response.text}"
    return response.json()


def error_fields(body: Any) -> list[str]:
    """The fields an error body names, in the old shape (`fields`) or RFC 9457's
    (`errors`), so tests hold across the switch."""
    return [str(e.get("field")) for e in (body.get("errors") or body.get("fields") or [])]


def admin_client(service: Service, name: str, key: str) -> httpx.AsyncClient:
    """An in-process client of the service's app, sending the admin key."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app),
        base_url=f"http://{name}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
