"""Operator routes every service mounts beside `/stats`: the outbox replay.

`POST /admin/outbox/replay?since=...` marks the retained outbox rows created since then
unsent, so the relay publishes them again: for a broker that lost records (an embedded one
restarted while the services ran, a cluster restored from an old snapshot). Consumers skip
an event id they already applied, so replaying too much is harmless, only slower. A replay
is recorded in the service's audit log ("outbox.replayed") with the operator's key.
The CLI calls this route rather than opening service databases: only the service knows its
database URL, its outbox table and its topics, and the admin key guards it like any route.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import audit
from shared.auth import AdminKey
from shared.errors import DomainError
from shared.outbox import requeue, retained_since

if TYPE_CHECKING:  # shared.runtime installs these routes in every Service
    from shared.runtime import Service


class Replay(BaseModel):
    service: str
    since: datetime
    dry_run: bool
    rows: int = Field(description="retained outbox rows created since `since`")
    topics: dict[str, int] = Field(description="those rows by topic")


def install(service: Service) -> None:
    @service.app.post("/admin/outbox/replay", tags=["operations"], response_model=Replay)
    async def replay(
        who: AdminKey,
        since: Annotated[
            AwareDatetime, Query(description="rows created at or after this instant (ISO 8601)")
        ],
        dry_run: Annotated[bool, Query(description="count what would be replayed")] = False,
    ) -> Replay:
        """Publish the retained outbox rows created since `since` again (admin key). Rows
        older than the outbox retention (`outbox_retention_days`) are gone and not replayed."""
        if since > datetime.now(UTC):
            raise DomainError("`since` is in the future", field="since")
        topics = await retained_since(service.db, service.outbox, since)
        rows = sum(topics.values())
        if not dry_run and rows:
            # An empty broker has lost the topics too; the relay must not publish into
            # auto-created ones with the broker's defaults.
            await service.ensure_topics(sorted(topics))

            def audited(session: AsyncSession, requeued: int) -> None:
                detail = f"{requeued} outbox rows since {since.isoformat()}"
                subject = ("outbox", service.name)
                audit.record(
                    session, service.audit_table, who, "outbox.replayed", subject, detail=detail
                )

            rows = await requeue(service.db, service.outbox, since, audited)
        return Replay(service=service.name, since=since, dry_run=dry_run, rows=rows, topics=topics)
