"""Which events funding follows, and the handler for each: the replica of registry and
certification facts, and the referral changes each causes."""

from __future__ import annotations

from services.funding.handlers import consents, people, qualifications
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
    PersonRegistered: people.on_person_registered,
    PersonRelocated: people.on_person_relocated,
    PersonErased: people.on_person_erased,
    PersonMerged: people.on_person_merged,
    HouseholdMemberJoined: people.on_household_member_joined,
    HouseholdMemberLeft: people.on_household_member_left,
    HouseholdIncomeRecorded: people.on_household_income_recorded,
    OrganisationRegistered: people.on_organisation_registered,
    ConsentGranted: consents.on_consent_granted,
    ConsentWithdrawn: consents.on_consent_withdrawn,
    PersonalDataShared: consents.on_personal_data_shared,  # registry's private topic to funding
    QualificationAwarded: qualifications.on_qualification_awarded,
    QualificationRevoked: qualifications.on_qualification_revoked,
    QualificationExpired: qualifications.on_qualification_expired,
    QualificationRenewed: qualifications.on_qualification_renewed,
}
