"""Which events funding follows, and the handler for each: the replica and what it causes."""

from __future__ import annotations

from services.funding.handlers import replica
from shared.consumer import Handler
from shared.events import (
    ConsentGranted,
    ConsentWithdrawn,
    Event,
    HouseholdIncomeRecorded,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    OrganisationRegistered,
    PersonalDataShared,
    PersonErased,
    PersonMerged,
    PersonRegistered,
    PersonRelocated,
    QualificationAwarded,
    QualificationExpired,
    QualificationRenewed,
    QualificationRevoked,
)

HANDLERS: dict[type[Event], Handler] = {
    PersonRegistered: replica.on_person_registered,
    PersonRelocated: replica.on_person_relocated,
    PersonErased: replica.on_person_erased,
    PersonMerged: replica.on_person_merged,
    HouseholdMemberJoined: replica.on_member_joined,
    HouseholdMemberLeft: replica.on_member_left,
    HouseholdIncomeRecorded: replica.on_income_recorded,
    OrganisationRegistered: replica.on_organisation_registered,
    ConsentGranted: replica.on_consent_granted,
    ConsentWithdrawn: replica.on_consent_withdrawn,
    PersonalDataShared: replica.on_personal_data_shared,  # registry's private topic to funding
    QualificationAwarded: replica.on_qualification_awarded,
    QualificationRevoked: replica.on_qualification_revoked,
    QualificationExpired: replica.on_qualification_expired,
    QualificationRenewed: replica.on_qualification_renewed,
}
