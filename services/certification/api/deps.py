"""What certification routes need besides shared.auth's keys and database: the issuer's
links and status list (Issuing), its signing keys (Keyring) and the public routes' rate
limit. `__main__` puts each on `app.state`; these read them back as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.certification.handlers.certificates import Issuing
from services.certification.handlers.keys import Keyring
from services.certification.ratelimit import RateLimit
from shared.http import app_state, guard


def issuing_of(request: Request) -> Issuing:
    return app_state(request, "issuing", Issuing)


def keyring_of(request: Request) -> Keyring:
    return app_state(request, "keyring", Keyring)


async def rate_limited(request: Request) -> None:
    """The public routes' per-client limit (429 with Retry-After when over it)."""
    await app_state(request, "rate_limit", RateLimit)(request)


guard(rate_limited, {429})  # documented as 429 on every route that uses it

IssuingDep = Annotated[Issuing, Depends(issuing_of)]
KeyringDep = Annotated[Keyring, Depends(keyring_of)]
RateLimited = Depends(rate_limited)
