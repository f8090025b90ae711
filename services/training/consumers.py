"""Which events training follows, and the handler for each: the registry replica."""

from __future__ import annotations

from services.training.handlers import replica
from shared.consumer import Handler
from shared.events import (
    Event,
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
    TrainerRegistered,
)

HANDLERS: dict[type[Event], Handler] = {
    PersonRegistered: replica.on_person_registered,
    PersonRelocated: replica.on_person_relocated,
    PersonErased: replica.on_person_erased,
    PersonMerged: replica.on_person_merged,
    HouseholdMemberJoined: replica.on_member_joined,
    HouseholdMemberLeft: replica.on_member_left,
    HouseholdIncomeRecorded: replica.on_income_recorded,
    TrainerRegistered: replica.on_trainer_registered,
    OrganisationRegistered: replica.on_organisation_registered,
}
