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

# Fields that must never appear in a broadcast event (checked by the contract tests).
PERSONAL_DATA_FIELDS = frozenset(
    {"national_id", "first_name", "last_name", "name", "phone", "address", "birth_date"}
)


class Event(BaseModel):
    """Base of every event. Extra fields are ignored so additive changes stay compatible."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: ClassVar[str]
    major: ClassVar[int] = 1

    person_id: str = Field(
        min_length=1, max_length=36, description="Opaque person id (UUID); also the Kafka key."
    )

    @classmethod
    def ce_type(cls) -> str:
        return f"skillbridge.{cls.service}.{cls.__name__}.v{cls.major}"

    @classmethod
    def topic(cls) -> str:
        return service_topic(cls.service, cls.major)


class PersonRegistered(Event):
    service = "registry"
    province_code: str
    registered_at: datetime


class ConsentGranted(Event):
    service = "registry"
    consent_id: str
    purpose: str = Field(description="e.g. 'loan-referral'")
    lender_code: str | None = Field(default=None, description="None: any partner lender")
    granted_at: datetime
    expires_at: datetime | None = None


class LearnerEnrolled(Event):
    service = "training"
    enrolment_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    enrolled_at: datetime


class TrainingCompleted(Event):
    service = "training"
    enrolment_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    hours: int
    completed_at: datetime


class TrainingNotCompleted(Event):
    service = "training"
    enrolment_id: str
    programme_code: str
    cohort_code: str
    occupation: str
    reason: str
    recorded_at: datetime


class QualificationAwarded(Event):
    service = "certification"
    certificate_number: str
    occupation: str
    level: int = Field(ge=1, le=8)
    valid_until: date
    awarded_at: datetime


class AssessmentFailed(Event):
    service = "certification"
    assessment_id: str
    occupation: str
    level: int = Field(ge=1, le=8)
    assessed_at: datetime


class LoanReferralCreated(Event):
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
    ConsentGranted,
    LearnerEnrolled,
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
