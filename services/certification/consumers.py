"""Which events certification follows, and the handler for each."""

from __future__ import annotations

from functools import partial

from services.certification.handlers import replica
from services.certification.handlers.certificates import Issuing
from shared.consumer import Handler
from shared.events import (
    Event,
    OrganisationRegistered,
    PersonErased,
    PersonMerged,
    TrainingCompleted,
)


def handlers_for(issuing: Issuing) -> dict[type[Event], Handler]:
    return {
        TrainingCompleted: partial(replica.on_training_completed, issuing=issuing),
        OrganisationRegistered: replica.on_organisation_registered,
        PersonErased: replica.on_person_erased,
        PersonMerged: partial(replica.on_person_merged, issuing=issuing),
    }
