"""Which events certification follows, and the handler for each.

The handlers that can award (a completion releases waiting passes, a merge moves them)
take the service's `issuing` settings as a keyword: `bound` gives the table with it bound,
for __main__ (and the handler tests) to wire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from inspect import signature

from services.certification.handlers import holders
from services.certification.handlers.certificates import Issuing
from services.certification.tables import KnownOrganisation
from shared import replica
from shared.events import (
    Event,
    OrganisationRegistered,
    PersonErased,
    PersonMerged,
    TrainingCompleted,
)

HANDLERS: dict[type[Event], Callable[..., Awaitable[object]]] = {
    TrainingCompleted: holders.on_training_completed,  # + issuing
    OrganisationRegistered: partial(replica.on_organisation_registered, table=KnownOrganisation),
    PersonErased: holders.on_person_erased,
    PersonMerged: holders.on_person_merged,  # + issuing
}


def bound(issuing: Issuing) -> dict[type[Event], Callable[..., Awaitable[object]]]:
    """HANDLERS with `issuing` bound into the handlers that take it."""
    return {
        event: partial(handle, issuing=issuing)
        if "issuing" in signature(handle).parameters
        else handle
        for event, handle in HANDLERS.items()
    }
