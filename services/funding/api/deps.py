"""What funding routes need besides shared.auth's keys and database: the partner's lender
(from its partner key), topic creation for a new lender, and the webhook destinations
policy. `__main__` puts the last two on `app.state`; these read them back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.funding.handlers import partners
from services.funding.webhooks import Destinations
from shared.auth import Unauthenticated, database_of
from shared.http import app_state, guard

EnsureTopicsFn = Callable[[Sequence[str]], Awaitable[None]]
_bearer = HTTPBearer(auto_error=False, scheme_name="partner key")


async def _lender(request: Request, token: str | None) -> str:
    """The lender whose key this is (401 otherwise): every partner route is scoped to it.
    The key itself is left on `request.state.partner`, the audit log's actor (`partner_of`)."""
    if not token:
        raise Unauthenticated("a partner key is required (Authorization: Bearer <key>)")
    async with database_of(request).transaction() as session:
        partner = await partners.partner_of(session, token)
    if partner is None:
        raise Unauthenticated("unknown or revoked partner key")
    request.state.partner = partner
    return partner.lender_code


def partner_of(request: Request) -> partners.Partner:
    """The partner key `partner_lender` authenticated for this request."""
    partner = getattr(request.state, "partner", None)
    if not isinstance(partner, partners.Partner):
        raise RuntimeError("no partner on the request: the route lacks PartnerLender")
    return partner


def presented_bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def partner_lender(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> str:
    return await _lender(request, credentials.credentials if credentials else None)


async def _check_partner(request: Request) -> str:
    return await _lender(request, presented_bearer(request))


# Marked so the 401 is documented and checked before the body is read (shared.http).
guard(partner_lender, {401}, _check_partner)


def ensure_topics_of(request: Request) -> EnsureTopicsFn:
    """Creates broker topics (a new lender's partner topic); `app.state.ensure_topics`."""
    ensure: EnsureTopicsFn = request.app.state.ensure_topics
    return ensure


def destinations_of(request: Request) -> Destinations:
    return app_state(request, "destinations", Destinations)


PartnerLender = Annotated[str, Depends(partner_lender)]
EnsureTopics = Annotated[EnsureTopicsFn, Depends(ensure_topics_of)]
WebhookDestinations = Annotated[Destinations, Depends(destinations_of)]
