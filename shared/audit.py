"""The audit log: who did what and when, written in the same transaction as the change.

A service's tables.py declares `class AuditEntry(Base, AuditColumns, table=True): ...` (the
mixin names the table and its index, the same in every service); `shared.runtime.Service`
mounts shared.audit_api's `GET /audit` (read key) for it.
Entries name fields, never their values, so erasing a person leaves the log clean (PDPA).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Index, Text
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UtcDateTime, where_equal


class AuditColumns(SQLModel):
    """`class AuditEntry(Base, AuditColumns, table=True): ...` in each service's tables.py."""

    __tablename__ = "audit_entry"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        # An Index belongs to one table, so every service's table builds its own.
        return (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=100)  # the key's name, or "lender:<code>" for a partner key
    actor_key_id: str | None = Field(default=None, max_length=36)  # the key's id, when known
    action: str = Field(max_length=50)
    entity_type: str = Field(max_length=20)
    entity_id: str = Field(max_length=64)  # e.g. a funding product code
    fields: str = Field(default="", sa_type=Text)  # comma-separated names of changed fields
    detail: str | None = Field(default=None, max_length=500)  # never personal data


class Actor(Protocol):
    """Who acts: an operator key (shared.auth.Operator) or a partner key (`PartnerActor`)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> str: ...


def entry(
    *,
    actor: str | Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    fields: Iterable[str] = (),
    detail: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One entry's values. `actor` is a key (its name and id are kept) or just a name."""
    name, key_id = (actor, None) if isinstance(actor, str) else (actor.name, actor.key_id)
    return {
        "at": at or datetime.now(UTC),
        "actor": name,
        "actor_key_id": key_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "fields": ",".join(sorted(fields)),
        "detail": detail,
    }


def record(
    session: AsyncSession,
    table: type[AuditColumns],
    actor: str | Actor,
    action: str,
    subject: tuple[str, str],
    *,
    fields: Iterable[str] = (),
    detail: str | None = None,
) -> None:
    """Add one entry in the caller's transaction: it commits or rolls back with the change.
    `subject` is (entity type, entity id), e.g. ("certificate", "TH-2026-000001")."""
    entity_type, entity_id = subject
    values = entry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        fields=fields,
        detail=detail,
    )
    session.add(table(**values))


async def entries(
    session: AsyncSession,
    table: type[AuditColumns],
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[AuditColumns]:
    """Oldest first, paged by id (`after_id` = the last id of the previous page)."""
    query = where_equal(
        select(table).where(col(table.id) > after_id),
        {
            table.entity_type: entity_type,
            table.entity_id: entity_id,
            table.actor: actor,
            table.action: action,
        },
        blank_is_unset=True,
    )
    query = query.order_by(col(table.id)).limit(limit)
    return list((await session.exec(query)).all())
