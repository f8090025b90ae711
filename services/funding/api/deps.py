"""What every funding route needs: the database, operator key checks, the partner's lender."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.funding.handlers import partners
from services.funding.webhooks import Destinations
from shared.auth import ApiKeys, Operator, Role, Unauthenticated
from shared.db import Database
from shared.http import guard

Dependency = Callable[..., Awaitable[Operator]]
_bearer = HTTPBearer(auto_error=False, scheme_name="partner key")


@dataclass
class Deps:
    db: Database
    keys: ApiKeys
    ensure_topics: Callable[[Sequence[str]], Awaitable[None]]
    destinations: Destinations = field(default_factory=Destinations)
    reader: Dependency = field(init=False)
    writer: Dependency = field(init=False)
    admin: Dependency = field(init=False)
    partner: Callable[..., Awaitable[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.keys.require(Role.read)
        self.writer = self.keys.require(Role.write)
        self.admin = self.keys.require(Role.admin)

        async def partner(
            credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        ) -> str:
            return await self._lender(credentials.credentials if credentials else None)

        async def check(request: Request) -> str:
            return await self._lender(presented_bearer(request))

        self.partner = guard(partner, {401}, check)

    async def _lender(self, token: str | None) -> str:
        """The lender whose key this is (401 otherwise): every partner route is scoped to it."""
        if not token:
            raise Unauthenticated("a partner key is required (Authorization: Bearer <key>)")
        async with self.db.transaction() as session:
            lender = await partners.lender_of(session, token)
        if lender is None:
            raise Unauthenticated("unknown or revoked partner key")
        return lender


def presented_bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None
