"""Which events training follows, and the handler for each."""

from __future__ import annotations

from services.training import handlers
from shared.consumer import Handler
from shared.events import Event, PersonRegistered

HANDLERS: dict[type[Event], Handler] = {
    PersonRegistered: handlers.on_person_registered,
}
