"""What every service answers an operator: health, readiness, `/stats`, API keys and the
outbox replay (shared/runtime.py, shared/auth_api.py, shared/ops_api.py mount them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from deploy.clients.base import Json, ServiceClient


@dataclass(frozen=True)
class Probe:
    """One of /healthz and /readyz: whether it answered 200, and why not."""

    ok: bool
    detail: str


class OpsClient(ServiceClient):
    async def probe(self, path: str) -> Probe:
        """GET `path` once (no retries: status reports what is, now)."""
        try:
            response = await self.http.get(f"{self.url}{path}")
        except httpx.TransportError as error:
            return Probe(False, f"unreachable: {type(error).__name__} {error}".strip())
        if response.status_code == 200:
            return Probe(True, "ok")
        return Probe(False, self.problem(response))

    async def stats(self) -> Json:
        return self.expect(await self.http.get(f"{self.url}/stats"), 200)

    async def replay(self, since: datetime, *, dry_run: bool) -> Json:
        response = await self.http.post(
            f"{self.url}/admin/outbox/replay",
            params={"since": since.isoformat(), "dry_run": str(dry_run).lower()},
        )
        return self.expect(response, 200)

    async def create_key(self, name: str, role: str) -> Json:
        """A new operator key; the answer's `token` is shown this once."""
        response = await self.http.post(f"{self.url}/api-keys", json={"name": name, "role": role})
        return self.expect(response, 201)

    async def keys(self) -> list[Json]:
        response = await self.http.get(f"{self.url}/api-keys")
        self.expect(response, 200)  # raises the problem otherwise
        return list(response.json())

    async def revoke_key(self, key_id: str) -> Json:
        return self.expect(await self.http.delete(f"{self.url}/api-keys/{key_id}"), 200)
