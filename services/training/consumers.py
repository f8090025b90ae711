"""Which events training follows, and the handler for each: the registry replica
(shared.replica, bound to training's tables) and what erasures and merges do to seats."""

from __future__ import annotations

from functools import partial

from services.training.handlers import people
from services.training.tables import (
    KnownHousehold,
    KnownMembership,
    KnownOrganisation,
    KnownPerson,
)
from shared import replica
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
    PersonRegistered: partial(
        replica.on_person_registered, table=KnownPerson, copy=("registered_at",)
    ),
    PersonRelocated: partial(replica.on_person_relocated, table=KnownPerson),
    PersonErased: people.on_person_erased,
    PersonMerged: people.on_person_merged,
    HouseholdMemberJoined: partial(replica.on_household_member_joined, table=KnownMembership),
    HouseholdMemberLeft: partial(replica.on_household_member_left, table=KnownMembership),
    HouseholdIncomeRecorded: partial(
        replica.on_household_income_recorded, table=KnownHousehold, copy=("low_income",)
    ),
    TrainerRegistered: people.on_trainer_registered,
    OrganisationRegistered: partial(replica.on_organisation_registered, table=KnownOrganisation),
}
