"""The event catalogue: every event any service publishes, in one place.

Each event is a pydantic model; its CloudEvents `type` is
`skillbridge.<service>.<EventName>.v<major>`. Broadcast events carry the opaque
`person_id` only: no national ID, name, phone or address (PDPA).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.topics import service_topic

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

    @classmethod
    def ce_type(cls) -> str:
        return f"skillbridge.{cls.service}.{cls.__name__}.v{cls.major}"

    @classmethod
    def topic(cls) -> str:
        return service_topic(cls.service, cls.major)

    def key(self) -> str:
        """The Kafka key (and CloudEvents subject): events with one key stay in order."""
        raise NotImplementedError


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


class QualificationAwarded(PersonEvent):
    service = "certification"
    certificate_number: str
    occupation: str
    level: int = Field(ge=1, le=8)
    valid_until: date
    awarded_at: datetime


class AssessmentFailed(PersonEvent):
    service = "certification"
    assessment_id: str
    occupation: str
    level: int = Field(ge=1, le=8)
    assessed_at: datetime


class LoanReferralCreated(PersonEvent):
    service = "funding"
    referral_id: str
    lender_code: str
    product_code: str
    occupation: str
    level: int
    certificate_number: str
    matched_clauses: list[str]
    created_at: datetime


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
    LearnerApplied,
    LearnerEnrolled,
    LearnerWaitlisted,
    LearnerWithdrew,
    TrainingCompleted,
    TrainingNotCompleted,
    QualificationAwarded,
    AssessmentFailed,
    LoanReferralCreated,
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
