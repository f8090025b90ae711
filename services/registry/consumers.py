"""Which events the registry follows: none. It is the source of the facts the other services
replicate, so its table is empty; it keeps the file so every service has the same shape."""

from __future__ import annotations

from shared.consumer import Handler
from shared.events import Event

HANDLERS: dict[type[Event], Handler] = {}
