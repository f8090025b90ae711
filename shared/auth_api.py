"""Routes for operator API keys, admin only: create (the token is shown once), list, revoke.

Every service mounts the same module-level router (`install`, called by `shared.runtime.Service`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, SecretStr
from sqlmodel import col, func, select

from shared.auth import (
    BOOTSTRAP_ADMIN,
    AdminKey,
    ApiKeyColumns,
    ApiKeys,
    Db,
    Role,
    keys_of,
    role_required,
)
from shared.errors import Conflict, NotFound
from shared.types import Input

if TYPE_CHECKING:  # shared.runtime installs these routes in every Service
    from shared.runtime import Service


class KeyIn(Input):
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


Keys = Annotated[ApiKeys, Depends(keys_of)]
router = APIRouter(tags=["api keys"])


@router.post("/api-keys", status_code=201, response_model=KeyCreated)
async def create(body: KeyIn, who: AdminKey, db: Db, keys: Keys) -> KeyCreated:
    table = keys.table
    async with db.transaction() as session:
        clash = (await session.exec(select(table).where(table.name == body.name))).first()
    if clash is not None:
        raise Conflict(f"a key named {body.name!r} exists", field="name")
    row, token = await keys.create(body.name, Role[body.role], by=who)
    return KeyCreated(**KeyOut.of(row).model_dump(), token=token)


@router.get("/api-keys", response_model=list[KeyOut])
async def list_keys(_: AdminKey, keys: Keys) -> list[KeyOut]:
    rows = await keys.list()
    return [KeyOut.of(r) for r in sorted(rows, key=lambda r: r.created_at)]


@router.delete("/api-keys/{key_id}", response_model=KeyOut)
async def revoke(key_id: str, who: AdminKey, db: Db, keys: Keys) -> KeyOut:
    table = keys.table
    async with db.transaction() as session:
        row = await session.get(table, key_id)
        if row is None:
            raise NotFound(f"no key {key_id}", field="key_id")
        if row.name == BOOTSTRAP_ADMIN:
            # Start-up restores it anyway; revoking it here would only lock out until then.
            raise Conflict(
                "the bootstrap admin key cannot be revoked through the API; to rotate it, "
                "restart with a new SKILLBRIDGE_ADMIN_KEY (the launcher) or "
                "<SERVICE>_ADMIN_KEY (e.g. REGISTRY_ADMIN_KEY); the old key then stops working",
                field="key_id",
            )
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
    await keys.revoke(key_id, by=who)  # also clears the key cache, so it stops working now
    async with db.transaction() as session:
        revoked = await session.get(table, key_id)
    if revoked is None:  # deleted meanwhile
        raise NotFound(f"no key {key_id}", field="key_id")
    return KeyOut.of(revoked)


def install(service: Service, keys: ApiKeys, admin_key: SecretStr | None) -> None:
    """Mount the key routes and, if the operator gave one, install the bootstrap admin key
    at start-up (it creates the other keys)."""
    service.app.state.api_keys = keys  # what shared.auth's role dependencies check against
    service.app.include_router(router)
    service.app.get(
        "/stats", tags=["operations"], dependencies=[Depends(role_required(Role.read))]
    )(service.stats)
    if admin_key is None:
        return
    token = admin_key.get_secret_value()

    async def install_admin_key() -> None:
        await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)

    service.startup_hooks.append(install_admin_key)
