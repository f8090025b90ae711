"""Operator API keys, admin only: create (the token is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from services.registry.api.deps import Deps
from services.registry.schemas import Strict
from shared.auth import ApiKeyColumns, Operator, Role
from shared.errors import Conflict, NotFound


class KeyIn(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$",
        description="who or what uses the key; recorded as the actor in the audit log",
        examples=["cdd-ubon-officer"],
    )
    role: Literal["read", "write", "admin"]


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyColumns) -> KeyOut:
        return cls.model_validate(row.model_dump(exclude={"secret_hash"}))


class KeyCreated(KeyOut):
    token: str = Field(description="shown this once; only its hash is kept")


def router(deps: Deps) -> APIRouter:
    api = APIRouter(tags=["api keys"])
    keys, table = deps.keys, deps.keys.table

    @api.post("/api-keys", status_code=201, response_model=KeyCreated)
    async def create(body: KeyIn, _: Operator = Depends(deps.admin)) -> KeyCreated:
        async with deps.db.transaction() as session:
            clash = (await session.exec(select(table).where(table.name == body.name))).first()
        if clash is not None:
            raise Conflict(f"a key named {body.name!r} exists", field="name")
        row, token = await keys.create(body.name, Role[body.role])
        return KeyCreated(**KeyOut.of(row).model_dump(), token=token)

    @api.get("/api-keys", response_model=list[KeyOut])
    async def list_keys(_: Operator = Depends(deps.admin)) -> list[KeyOut]:
        rows = await keys.list()
        return [KeyOut.of(r) for r in sorted(rows, key=lambda r: r.created_at)]

    @api.delete("/api-keys/{key_id}", response_model=KeyOut)
    async def revoke(key_id: str, _: Operator = Depends(deps.admin)) -> KeyOut:
        async with deps.db.transaction() as session:
            row = await session.get(table, key_id)
            if row is None:
                raise NotFound(f"no key {key_id}", field="key_id")
            if row.role == Role.admin.name and row.revoked_at is None:
                # Locking every admin out could only be undone in the database.
                admins = (
                    await session.exec(
                        select(func.count())
                        .select_from(table)
                        .where(table.role == Role.admin.name, col(table.revoked_at).is_(None))
                    )
                ).one()
                if admins <= 1:
                    raise Conflict("this is the last active admin key", field="key_id")
        await keys.revoke(key_id)  # also clears the key cache, so it stops working now
        async with deps.db.transaction() as session:
            revoked = await session.get(table, key_id)
        if revoked is None:  # deleted meanwhile
            raise NotFound(f"no key {key_id}", field="key_id")
        return KeyOut.of(revoked)

    return api
