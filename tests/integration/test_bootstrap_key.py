"""The bootstrap admin key: installed idempotently at every start, rotated only by the operator,
never revoked through the API. On the real database (PostgreSQL when reachable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

import services.registry
from services.registry.tables import ApiKey
from shared.auth import BOOTSTRAP_ADMIN, ApiKeys, Role, Unauthenticated, new_token
from shared.db import Database
from tests.support import RunningRegistry


def field_names(response: httpx.Response) -> set[str]:
    body = response.json()
    return {f["field"] for f in body.get("errors") or body.get("fields") or []}


@pytest.fixture
async def keys(database_urls: dict[str, str]) -> AsyncIterator[ApiKeys]:
    db = Database(database_urls["registry"])
    await db.migrate(Path(services.registry.__file__).parent / "migrations")
    yield ApiKeys(db, ApiKey)
    await db.dispose()


async def bootstrap_rows(keys: ApiKeys) -> list[ApiKey]:
    async with keys.db.transaction() as session:
        return list(
            (await session.exec(select(ApiKey).where(ApiKey.name == BOOTSTRAP_ADMIN))).all()
        )


async def test_the_same_key_twice_is_one_working_row(keys: ApiKeys) -> None:
    token = new_token()
    await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)
    [first] = await bootstrap_rows(keys)
    await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)  # a second start: no UNIQUE failure
    [again] = await bootstrap_rows(keys)
    assert again.key_id == first.key_id and again.secret_hash == first.secret_hash
    assert (await keys.authenticate(token)).role is Role.admin


async def test_a_new_key_replaces_the_old_one(keys: ApiKeys) -> None:
    old, new = new_token(), new_token()
    await keys.ensure(BOOTSTRAP_ADMIN, old, Role.admin)
    assert (await keys.authenticate(old)).name == BOOTSTRAP_ADMIN  # cached now
    await keys.ensure(BOOTSTRAP_ADMIN, new, Role.admin)
    assert len(await bootstrap_rows(keys)) == 1
    assert (await keys.authenticate(new)).role is Role.admin
    with pytest.raises(Unauthenticated):
        await keys.authenticate(old)


async def test_a_revoked_bootstrap_key_is_restored(keys: ApiKeys) -> None:
    token = new_token()
    await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)
    [row] = await bootstrap_rows(keys)
    await keys.revoke(row.key_id)  # e.g. revoked in the database by hand
    with pytest.raises(Unauthenticated):
        await keys.authenticate(token)
    await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)
    assert (await keys.authenticate(token)).role is Role.admin


async def test_another_keys_token_is_refused_as_bootstrap(keys: ApiKeys) -> None:
    _, token = await keys.create("dashboard", Role.read)
    with pytest.raises(ValueError, match="dashboard"):
        await keys.ensure(BOOTSTRAP_ADMIN, token, Role.admin)
    assert await bootstrap_rows(keys) == []


async def test_the_bootstrap_key_cannot_be_revoked_through_the_api(
    registry: RunningRegistry,
) -> None:
    admin = registry.client
    # A second admin: the refusal is not the "last admin" rule.
    other = (await admin.post("/api-keys", json={"name": "ops-admin", "role": "admin"})).json()
    listed = (await admin.get("/api-keys")).json()
    [bootstrap] = [k for k in listed if k["name"] == BOOTSTRAP_ADMIN]
    refused = await admin.delete(f"/api-keys/{bootstrap['key_id']}")
    assert refused.status_code == 409, refused.text
    assert field_names(refused) == {"key_id"}
    assert "ADMIN_KEY" in refused.text  # says how to rotate it
    assert (await admin.get("/api-keys")).status_code == 200  # still works
    revoked = await admin.delete(f"/api-keys/{other['key_id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
