"""Which events funding follows, and the handler for each."""

from __future__ import annotations

from services.funding import handlers
from shared.consumer import Handler
from shared.events import ConsentGranted, Event, QualificationAwarded

HANDLERS: dict[type[Event], Handler] = {
    ConsentGranted: handlers.on_consent_granted,
    QualificationAwarded: handlers.on_qualification_awarded,
}
