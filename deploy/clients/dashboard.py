"""Calls to the dashboard service's API: its figures, and the read model's rebuild.

`GET /api/figures` takes a read key; `POST /admin/rebuild` an admin key, and answers 202 with
the rebuild's status, which `GET /admin/rebuild` then reports until it is done or failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from deploy.clients.base import ApiError, Json, ServiceClient

# The figures a rebuild must give back unchanged (`as_of` and `events` describe the model).
FIGURE_NAMES = ("funnel", "targets", "time_to_credit", "lenders", "selection", "outcomes")
State = Literal["idle", "running", "done", "failed"]


@dataclass(frozen=True)
class RebuildStatus:
    state: State
    read: int
    total: int
    events_per_second: float | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> RebuildStatus:
        def when(name: str) -> datetime | None:
            value = body.get(name)
            return datetime.fromisoformat(value) if value else None

        rate = body.get("events_per_second")
        return cls(
            state=cast(State, body["state"]),
            read=int(body.get("read") or 0),
            total=int(body.get("total") or 0),
            events_per_second=None if rate is None else float(rate),
            started_at=when("started_at"),
            finished_at=when("finished_at"),
            error=body.get("error"),
        )

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def differing(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The names of the figures that are not equal in the two `/api/figures` answers."""
    return [name for name in FIGURE_NAMES if before.get(name) != after.get(name)]


class DashboardClient(ServiceClient):
    """The figures (read key) and the read model's rebuild (admin key to start it)."""

    async def figures(self, **filters: str) -> Json:
        response = await self.http.get(f"{self.url}/api/figures", params=filters)
        return self.expect(response, 200)

    async def start_rebuild(self) -> RebuildStatus:
        """202 with the new rebuild's status; ApiError if one is running already (409)."""
        response = await self.http.post(f"{self.url}/admin/rebuild")
        return RebuildStatus.of(self.expect(response, 202))

    async def rebuild_status(self) -> RebuildStatus:
        return RebuildStatus.of(self.expect(await self.http.get(f"{self.url}/admin/rebuild"), 200))

    async def follow_rebuild(
        self,
        on_status: Callable[[RebuildStatus], None],
        *,
        timeout: float,
        interval: float = 0.2,
    ) -> RebuildStatus:
        """Poll the rebuild until it is done or failed, telling `on_status` each answer;
        ApiError when it is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            status = await self.rebuild_status()
            on_status(status)
            if status.finished:
                return status
            if time.monotonic() > deadline:
                raise ApiError(
                    f"the rebuild is still {status.state} after {timeout:.0f}s "
                    f"({status.read:,} of {status.total:,} events read)"
                )
            await asyncio.sleep(interval)
