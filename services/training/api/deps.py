"""What every training route needs: the database and the key checks by role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shared.auth import ApiKeys, Operator, Role
from shared.db import Database

Dependency = Callable[..., Awaitable[Operator]]


@dataclass
class Deps:
    db: Database
    keys: ApiKeys
    reader: Dependency = field(init=False)
    writer: Dependency = field(init=False)

    def __post_init__(self) -> None:
        self.reader = self.keys.require(Role.read)
        self.writer = self.keys.require(Role.write)
