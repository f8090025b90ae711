"""What every certification route needs: the database, key checks by role, the issuer's
links and keys, and the public routes' rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.certification.handlers.certificates import Issuing
from services.certification.handlers.keys import Keyring
from services.certification.ratelimit import RateLimit
from shared.auth import ApiKeys, Operator, Role
from shared.db import Database

Dependency = Callable[..., Awaitable[Operator]]


@dataclass
class Deps:
    db: Database
    keys: ApiKeys
    issuing: Issuing
    keyring: Keyring
    rate_limit: RateLimit
    reader: Dependency = field(init=False)
    writer: Dependency = field(init=False)
    admin: Dependency = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.keys.require(Role.read)
        self.writer = self.keys.require(Role.write)
        self.admin = self.keys.require(Role.admin)
