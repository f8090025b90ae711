"""Operator API keys with roles (read < write < admin), stored as SHA-256 hashes.

A key is a random 256-bit token, so a plain SHA-256 is enough (no password stretching
needed) and lets us look it up by hash. Clients send `Authorization: Bearer <key>` or
`X-API-Key: <key>`. Missing or unknown key: 401; a key whose role is too low: 403.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit import AuditColumns, record
from shared.db import Database, UtcDateTime
from shared.errors import DomainError
from shared.http import app_state, guard

TOKEN_PREFIX = "sbk_"
# The key the operator gives at start-up (<SERVICE>_ADMIN_KEY); it creates the other keys.
BOOTSTRAP_ADMIN = "bootstrap-admin"


class Role(IntEnum):
    read = 1
    write = 2
    admin = 3


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "An API key is required"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "The key's role does not allow this"


class ApiKeyColumns(SQLModel):
    """`class ApiKey(Base, ApiKeyColumns, table=True): ...` in each service's tables.py."""

    __tablename__ = "api_key"
    key_id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=10)
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


@dataclass(frozen=True)
class Operator:
    """Who is calling: recorded as the actor in audit entries."""

    key_id: str
    name: str
    role: Role


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_bearer = HTTPBearer(auto_error=False)
_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def presented_key(request: Request) -> str | None:
    """The key as the dependencies read it: a Bearer token, else the X-API-Key header."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key")


class ApiKeys:
    """Checks keys against the service's `api_key` table, caching hits briefly.

    The cache means a revoked key keeps working for at most `cache_seconds`.
    """

    def __init__(
        self,
        db: Database,
        table: type[ApiKeyColumns],
        *,
        audit: type[AuditColumns] | None = None,
        cache_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.table = table
        self.audit = audit  # creating and revoking a key is recorded here, with the key change
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Operator]] = {}

    async def ensure(self, name: str, token: str, role: Role) -> None:
        """Install a key given by the operator (the bootstrap admin key) under `name`.

        Idempotent, so every start on existing data can call it: the same key changes
        nothing; a new key replaces the old one's hash (the old key stops working); a revoked
        or demoted row is restored, so a restart always gives the operator their key back.
        """
        digest = hash_token(token)
        async with self.db.transaction() as session:
            other = (
                await session.exec(
                    select(self.table).where(
                        self.table.secret_hash == digest, self.table.name != name
                    )
                )
            ).first()
            if other is not None:
                raise ValueError(f"the key given for {name!r} is already the key {other.name!r}")
            row = (await session.exec(select(self.table).where(self.table.name == name))).first()
            if row is None:
                session.add(
                    self.table(
                        key_id=secrets.token_hex(8),
                        name=name,
                        role=role.name,
                        secret_hash=digest,
                        created_at=datetime.now(UTC),
                    )
                )
            elif (row.secret_hash, row.role, row.revoked_at) != (digest, role.name, None):
                row.secret_hash, row.role, row.revoked_at = digest, role.name, None
                session.add(row)
        self._cache.clear()

    async def create(
        self, name: str, role: Role, by: Operator | None = None
    ) -> tuple[ApiKeyColumns, str]:
        """A new key; the token is returned once and only its hash is kept. `by` (the
        operator creating it) is recorded in the audit log in the same transaction."""
        token = new_token()
        async with self.db.transaction() as session:
            clash = (await session.exec(select(self.table).where(self.table.name == name))).first()
            if clash is not None:
                raise DomainError(f"a key named {name!r} exists", field="name")
            row = self.table(
                key_id=secrets.token_hex(8),
                name=name,
                role=role.name,
                secret_hash=hash_token(token),
                created_at=datetime.now(UTC),
            )
            session.add(row)
            self._audit(session, by, "api-key.created", row.key_id, f"{name} ({role.name})")
        return row, token

    async def list(self) -> list[ApiKeyColumns]:
        async with self.db.transaction() as session:
            return list((await session.exec(select(self.table))).all())

    async def revoke(self, key_id: str, by: Operator | None = None) -> None:
        async with self.db.transaction() as session:
            row = await session.get(self.table, key_id)
            if row is None:
                raise DomainError(f"no key {key_id}", field="key_id")
            if row.revoked_at is None:  # revoking again changes nothing, so records nothing
                row.revoked_at = datetime.now(UTC)
                self._audit(session, by, "api-key.revoked", key_id, row.name)
        self._cache.clear()

    def _audit(
        self, session: AsyncSession, by: Operator | None, action: str, key_id: str, detail: str
    ) -> None:
        if self.audit is not None and by is not None:
            record(session, self.audit, by, action, ("api-key", key_id), detail=detail)

    async def authenticate(self, token: str | None) -> Operator:
        if not token:
            raise Unauthenticated("an API key is required (Authorization: Bearer <key>)")
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with self.db.transaction() as session:
            row = (
                await session.exec(select(self.table).where(self.table.secret_hash == digest))
            ).first()
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("unknown or revoked API key")
        operator = Operator(key_id=row.key_id, name=row.name, role=Role[row.role])
        self._cache[digest] = (time.monotonic() + self.cache_seconds, operator)
        return operator

    async def check(self, role: Role, token: str | None) -> Operator:
        """The operator holding `token`, if their key has at least `role` (401/403 otherwise)."""
        operator = await self.authenticate(token)
        if operator.role < role:
            raise Forbidden(
                f"this needs a {role.name} key; {operator.name!r} is {operator.role.name}"
            )
        return operator

    def require(self, role: Role) -> Callable[..., Awaitable[Operator]]:
        """A FastAPI dependency bound to these keys (see `role_required` for routers)."""

        async def dependency(
            request: Request,
            bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
            header: str | None = Depends(_header),
        ) -> Operator:
            operator = await self.check(role, bearer.credentials if bearer else header)
            request.state.operator = operator
            return operator

        async def check_request(request: Request) -> Operator:
            return await self.check(role, presented_key(request))

        return guard(dependency, {401, 403}, check_request)


def keys_of(request: Request) -> ApiKeys:
    """The service's keys, put on `app.state.api_keys` by shared.auth_api.install."""
    return app_state(request, "api_keys", ApiKeys)


def role_required(role: Role) -> Callable[..., Awaitable[Operator]]:
    """A FastAPI dependency for module-level routers: the calling operator, if their key has
    at least `role`. The service's keys are read from the app, so routers need no closure."""

    async def dependency(
        request: Request,
        bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
        header: str | None = Depends(_header),
    ) -> Operator:
        operator = await keys_of(request).check(role, bearer.credentials if bearer else header)
        request.state.operator = operator
        return operator

    async def check_request(request: Request) -> Operator:
        return await keys_of(request).check(role, presented_key(request))

    return guard(dependency, {401, 403}, check_request)


def database_of(request: Request) -> Database:
    """The service's database, put on `app.state.db` by shared.runtime.Service."""
    return app_state(request, "db", Database)


# The aliases routes declare (after fastapi/full-stack-fastapi-template's api/deps.py).
ReadKey = Annotated[Operator, Depends(role_required(Role.read))]
WriteKey = Annotated[Operator, Depends(role_required(Role.write))]
AdminKey = Annotated[Operator, Depends(role_required(Role.admin))]
Db = Annotated[Database, Depends(database_of)]


def read_out(
    router: APIRouter,
    path: str,
    read: Callable[[AsyncSession], Awaitable[dict[str, int]]],
    description: str | None = None,
) -> None:
    """GET `path` for a read key: an operator's numbers (`/counts`, `/replica`) that `read`
    takes in one transaction. Every service has these; the operation is named by the path."""

    async def endpoint(_: ReadKey, db: Db) -> dict[str, int]:
        async with db.transaction() as session:
            return await read(session)

    router.get(path, name=path.strip("/"), description=description)(endpoint)
