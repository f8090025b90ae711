"""The event catalogue: every event any service publishes, in one place.

Each event is a pydantic model; its CloudEvents `type` is
`skillbridge.<service>.<EventName>.v<major>`. Broadcast events carry the opaque
`person_id` only: no national ID, name, phone or address (PDPA).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.topics import private_topic, service_topic

# Who may read an event (Event.audience): everyone (None: the producer's broadcast topic),
# one service (its private topic), or one partner lender (that lender's own topic).
PARTNER = "partner"

# Fields that must never appear in a broadcast event about a person (contract tests check).
# (`name` is allowed on villages and organisations, which are not people.)
PERSONAL_DATA_FIELDS = frozenset(
    {
        "national_id",
        "first_name",
        "last_name",
        "first_name_th",
        "last_name_th",
        "first_name_en",
        "last_name_en",
        "phone",
        "address",
        "house_no",
        "birth_date",
        "monthly_income",
    }
)


class Event(BaseModel):
    """Base of every event. Extra fields are ignored so additive changes stay compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: ClassVar[str]
    major: ClassVar[int] = 1
    audience: ClassVar[str | None] = None

    @classmethod
    def ce_type(cls) -> str:
        return f"skillbridge.{cls.service}.{cls.__name__}.v{cls.major}"

    @classmethod
    def is_broadcast(cls) -> bool:
        return cls.audience is None

    @classmethod
    def topic(cls) -> str:
        if cls.audience == PARTNER:
            raise TypeError(f"{cls.__name__} goes to its lender's own topic: partner_topic(code)")
        if cls.audience is not None:
            return private_topic(cls.service, cls.audience, cls.major)
        return service_topic(cls.service, cls.major)

    def key(self) -> str:
        """The Kafka key (and CloudEvents subject): events with one key stay in order."""
        raise NotImplementedError

    @classmethod
    def fields_from(cls, source: object) -> dict[str, Any]:
        """This class's fields read off `source` (`copied`): on a family's base, e.g.
        CertificateEvent, what every event of the family says of the row it tells of."""
        return copied(source, *cls.model_fields)


def copied(source: object, *names: str) -> dict[str, Any]:
    """`source`'s attributes of these names, read as attributes (a row loads what it must):
    an event's fields from the row it tells of, or a replica's columns from an event, where
    the two name them alike (e.g. `*CertificateEvent.model_fields`)."""
    return {name: getattr(source, name) for name in names}


class PersonEvent(Event):
    """An event about one person, keyed by the person's opaque id."""

    person_id: str = Field(
        min_length=1, max_length=36, description="Opaque person id (UUID); also the Kafka key."
    )

    def key(self) -> str:
        return self.person_id


# --- registry -------------------------------------------------------------------------
# Location travels as codes down to the village (selection caps seats per village); the
# house address stays in the registry. Age rules need only the birth year.


class PersonRegistered(PersonEvent):
    service = "registry"
    province_code: str
    village_code: str | None = None
    birth_year: int | None = Field(default=None, description="Gregorian year; no full date")
    registered_at: datetime


class PersonRelocated(PersonEvent):
    """The person's province or village changed (not the house address, which never leaves)."""

    service = "registry"
    province_code: str
    village_code: str | None = None
    relocated_at: datetime


class PersonMerged(PersonEvent):
    """Two records were the same person: `person_id` is retired in favour of `survivor_id`."""

    service = "registry"
    survivor_id: str = Field(min_length=1, max_length=36)
    merged_at: datetime


class PersonErased(PersonEvent):
    """PDPA erasure: every service must drop what it holds about this person."""

    service = "registry"
    erased_at: datetime


class ConsentGranted(PersonEvent):
    service = "registry"
    consent_id: str = Field(description="Also the receipt id given to the person")
    purpose: str = Field(description="e.g. 'loan-referral'")
    lender_code: str | None = Field(default=None, description="None: any partner lender")
    data_categories: list[str] = Field(
        default_factory=list, description="What may be shared for this purpose, e.g. 'contact'"
    )
    granted_at: datetime
    expires_at: datetime | None = None


class ConsentWithdrawn(PersonEvent):
    """The person withdrew this consent, or it expired (`reason`)."""

    service = "registry"
    consent_id: str
    purpose: str
    lender_code: str | None = None
    reason: str = Field(description="'withdrawn', 'expired' or 'erased'")
    withdrawn_at: datetime


class HouseholdEvent(Event):
    household_id: str = Field(min_length=1, max_length=36, description="Also the Kafka key")

    def key(self) -> str:
        return self.household_id


class HouseholdRegistered(HouseholdEvent):
    service = "registry"
    province_code: str
    village_code: str | None = None
    registered_at: datetime


class HouseholdMemberJoined(HouseholdEvent):
    service = "registry"
    person_id: str = Field(min_length=1, max_length=36)
    joined_at: datetime


class HouseholdMemberLeft(HouseholdEvent):
    service = "registry"
    person_id: str = Field(min_length=1, max_length=36)
    left_at: datetime


class HouseholdIncomeRecorded(HouseholdEvent):
    """A new monthly income figure: only its band travels, never the amount."""

    service = "registry"
    income_band: str = Field(description="Band label, e.g. 'B03'; bands sort by income")
    band_floor: int = Field(ge=0, description="Lowest monthly income in the band (THB)")
    band_ceiling: int | None = Field(default=None, description="Exclusive; None: open-ended")
    low_income: bool
    recorded_at: datetime


class VillageRegistered(Event):
    service = "registry"
    village_code: str
    name: str
    province_code: str
    district: str | None = None
    tourism_class: str | None = Field(default=None, description="A, B, C or D")
    registered_at: datetime

    def key(self) -> str:
        return self.village_code


class OrganisationRegistered(Event):
    service = "registry"
    code: str
    kind: str = Field(description="programme-owner, training-partner, assessor, lender or fund")
    name: str
    registered_at: datetime

    def key(self) -> str:
        return self.code


class TrainerRegistered(Event):
    """A community trainer (sage); contact details stay in the registry."""

    service = "registry"
    trainer_id: str
    person_id: str | None = Field(default=None, max_length=36)
    occupations: list[str]
    village_code: str | None = None
    role: str = Field(description="'lead' or 'member'")
    registered_at: datetime

    def key(self) -> str:
        return self.trainer_id


class SharedPersonalData(BaseModel):
    """Personal data a person agreed to share with lenders, by PDPA data category: only
    the fields of the consented categories are filled (docs/decisions/0010)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    categories: list[str] = Field(description="identity, contact, address, household-income")
    # identity
    national_id: str | None = None
    first_name_th: str | None = None
    last_name_th: str | None = None
    first_name_en: str | None = None
    last_name_en: str | None = None
    birth_date: date | None = None
    # contact
    phone: str | None = None
    # address
    house_no: str | None = None
    street: str | None = None
    subdistrict: str | None = None
    district: str | None = None
    province_code: str | None = None
    village_code: str | None = None
    # household-income: the latest monthly figure of the person's household (THB)
    monthly_income: int | None = None


class PersonalDataShared(PersonEvent):
    """Registry -> funding only, on a private topic: what a live loan-referral consent lets
    lenders receive. Sent when the consent is granted and again whenever that data changes;
    ConsentWithdrawn and PersonErased tell funding to drop it."""

    service = "registry"
    audience = "funding"
    consent_id: str
    lender_code: str | None = Field(default=None, description="None: any partner lender")
    data: SharedPersonalData
    shared_at: datetime


class PlaceTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    place_kind: str = Field(description="'estate', 'province' or 'village'")
    place_code: str
    target: int = Field(ge=0)


class ProgrammeRegistered(Event):
    """A programme and its targets: what dashboards measure achievement against."""

    service = "training"
    programme_code: str
    name: str
    owner_code: str
    year: int
    occupations: list[str]
    target_total: int = Field(ge=0)
    targets: list[PlaceTarget] = Field(default_factory=list)
    registered_at: datetime

    def key(self) -> str:
        return self.programme_code


class CohortScheduled(Event):
    """A cohort's place, size and village cap (fair-selection figures read the cap)."""

    service = "training"
    cohort_code: str
    programme_code: str
    course_code: str
    occupation: str
    venue_kind: str = Field(description="'estate', 'learning-centre' or 'village'")
    venue_code: str
    venue_name: str | None = None
    capacity: int
    village_cap: int | None = None
    dates: list[date]
    scheduled_at: datetime

    def key(self) -> str:
        return self.cohort_code


class LearnerApplied(PersonEvent):
    service = "training"
    application_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    applied_at: datetime


class LearnerEnrolled(PersonEvent):
    """A seat in the cohort: from selection, a later application, or a promotion."""

    service = "training"
    enrolment_id: str = Field(description="The application's id")
    programme_code: str
    cohort_code: str
    occupation: str
    rank: int | None = Field(default=None, description="Selection rank (1 = first)")
    enrolled_at: datetime


class LearnerWaitlisted(PersonEvent):
    service = "training"
    application_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    rank: int = Field(description="Selection rank (1 = first); the waitlist keeps rank order")
    reason: str = Field(description="Why no seat: cohort full, village cap, household")
    waitlisted_at: datetime


class LearnerWithdrew(PersonEvent):
    service = "training"
    application_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    previous_status: str = Field(description="applied, enrolled or waitlisted")
    reason: str
    withdrew_at: datetime


class TrainingCompleted(PersonEvent):
    """The learner met the course's completion rule when the cohort closed."""

    service = "training"
    enrolment_id: str
    programme_code: str
    cohort_code: str
    course_code: str | None = None
    occupation: str
    hours: int
    days_attended: int | None = None
    completed_at: datetime


class TrainingNotCompleted(PersonEvent):
    service = "training"
    enrolment_id: str
    programme_code: str
    cohort_code: str
    course_code: str | None = None
    occupation: str
    reason: str
    recorded_at: datetime


class CertificateEvent(PersonEvent):
    """An event about one certificate; keyed by the holder, so a holder's events stay in order."""

    certificate_number: str
    occupation: str
    level: int = Field(ge=1, le=8)


class QualificationAwarded(CertificateEvent):
    service = "certification"
    valid_until: date
    awarded_at: datetime
    standard_code: str | None = Field(default=None, description="The occupational standard")
    verification_url: str | None = Field(
        default=None, description="Public page where anyone can check the certificate"
    )


class QualificationRevoked(CertificateEvent):
    service = "certification"
    reason: str
    revoked_at: datetime


class QualificationExpired(CertificateEvent):
    service = "certification"
    valid_until: date
    expired_at: datetime


class QualificationRenewed(CertificateEvent):
    service = "certification"
    previous_valid_until: date
    valid_until: date
    renewed_at: datetime


class AssessmentFailed(PersonEvent):
    service = "certification"
    assessment_id: str
    occupation: str
    level: int = Field(ge=1, le=8)
    assessed_at: datetime
    failed_units: list[str] = Field(
        default_factory=list, description="Codes of the required competency units not passed"
    )


class LoanProductPublished(Event):
    """A lender's product with a rule version just gone live: its SLA (days to decide)
    is what time-to-credit figures hold the lender to."""

    service = "funding"
    product_code: str
    lender_code: str
    lender_name: str
    name: str
    rule_version: int
    sla_days: int
    published_at: datetime

    def key(self) -> str:
        return self.product_code


class ReferralEvent(PersonEvent):
    """A step in one loan referral's lifecycle (funding); also sent on the lender's topic."""

    service = "funding"
    referral_id: str
    lender_code: str
    product_code: str


class LoanReferralCreated(ReferralEvent):
    occupation: str
    level: int
    certificate_number: str
    matched_clauses: list[str]
    created_at: datetime
    rule_version: int | None = Field(default=None, description="The product rule that matched")


class LoanReferralHeld(ReferralEvent):
    """Eligible, but waiting for something (the person's consent) before the lender is told."""

    occupation: str
    level: int
    certificate_number: str
    matched_clauses: list[str]
    waiting_for: str = Field(description="e.g. 'consent'")
    held_at: datetime
    rule_version: int | None = None


class LoanReferralShared(ReferralEvent):
    """The referral as its lender sees it, on that lender's own topic only: with the
    personal data the person consented to share with this lender, and nothing more."""

    audience = PARTNER
    occupation: str
    level: int
    certificate_number: str
    valid_until: date | None = None
    matched_clauses: list[str]
    applicant: SharedPersonalData | None = Field(
        default=None, description="None: the person consented to share no personal data"
    )
    respond_by: date | None = Field(default=None, description="After this the referral expires")
    shared_at: datetime


class LoanReferralDelivered(ReferralEvent):
    channel: str = Field(description="'topic', 'webhook' or 'api'")
    delivered_at: datetime


class LoanReferralAcknowledged(ReferralEvent):
    acknowledged_at: datetime


class LoanApproved(ReferralEvent):
    amount: int | None = Field(default=None, ge=0, description="Approved amount (THB)")
    approved_at: datetime


class LoanDeclined(ReferralEvent):
    reason_code: str
    declined_at: datetime


class LoanDisbursed(ReferralEvent):
    amount: int = Field(ge=0, description="THB")
    disbursed_on: date
    disbursed_at: datetime


class LoanReferralExpired(ReferralEvent):
    previous_status: str
    expired_at: datetime


class LoanReferralCancelled(ReferralEvent):
    previous_status: str
    reason: str = Field(
        description="'consent-withdrawn', 'qualification-revoked', 'qualification-expired' "
        "or 'person-erased'"
    )
    cancelled_at: datetime


CATALOGUE: tuple[type[Event], ...] = (
    PersonRegistered,
    PersonRelocated,
    PersonMerged,
    PersonErased,
    ConsentGranted,
    ConsentWithdrawn,
    HouseholdRegistered,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    HouseholdIncomeRecorded,
    VillageRegistered,
    OrganisationRegistered,
    TrainerRegistered,
    PersonalDataShared,
    ProgrammeRegistered,
    CohortScheduled,
    LearnerApplied,
    LearnerEnrolled,
    LearnerWaitlisted,
    LearnerWithdrew,
    TrainingCompleted,
    TrainingNotCompleted,
    QualificationAwarded,
    QualificationRevoked,
    QualificationExpired,
    QualificationRenewed,
    AssessmentFailed,
    LoanProductPublished,
    LoanReferralCreated,
    LoanReferralHeld,
    LoanReferralShared,
    LoanReferralDelivered,
    LoanReferralAcknowledged,
    LoanApproved,
    LoanDeclined,
    LoanDisbursed,
    LoanReferralExpired,
    LoanReferralCancelled,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.ce_type(): cls for cls in CATALOGUE}


def schema_files() -> dict[str, str]:
    """File name -> JSON Schema text, as kept in docs/events/ (the published contract)."""
    return {
        f"{ce_type}.json": json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for ce_type, schema in json_schemas().items()
    }


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def json_schemas() -> dict[str, object]:
    """JSON Schema of every event, keyed by CloudEvents type (exported to docs/events/)."""
    return {ce_type: cls.model_json_schema() for ce_type, cls in EVENT_TYPES.items()}
