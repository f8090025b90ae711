"""Request and response bodies of the certification API (validation lives here, once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, model_validator

from shared.types import Input, Output, SafeDate

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", examples=["gardener-l1"])]
UnitCode = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9.-]{0,15}$", examples=["GD-01"])]
PersonId = Annotated[str, Field(min_length=1, max_length=36)]
CertificateNumber = Annotated[str, Field(pattern=r"^[A-Z0-9-]{1,32}$")]


class Strict(Input):
    """Unknown fields refused, text NFC without invisible characters (shared/types.py)."""


# --- standards ------------------------------------------------------------------------


class UnitIn(Strict):
    code: UnitCode
    title: str = Field(min_length=1, max_length=200)
    required: StrictBool


class StandardIn(Strict):
    code: Code
    occupation: Code
    occupation_title: str = Field(min_length=1, max_length=200)
    level: StrictInt = Field(ge=1, le=8, description="qualification level, 1-8")
    title: str = Field(min_length=1, max_length=200)
    valid_years: StrictInt = Field(ge=1, le=10, description="how long a certificate is valid")
    units: list[UnitIn] = Field(min_length=1, max_length=100)


class StandardOut(Output):
    code: str
    occupation: str
    occupation_title: str
    level: int
    title: str
    valid_years: int
    units: list[UnitIn]
    source: str = Field(description="'shipped' with the service or added by an 'operator'")


# --- sessions, candidates, results ----------------------------------------------------


class SessionIn(Strict):
    code: Code
    standard_code: Code
    assessor_code: Code = Field(description="an organisation of kind 'assessor', e.g. tpqi")
    held_on: SafeDate
    venue: str | None = Field(default=None, max_length=200)


class SessionOut(BaseModel):
    code: str
    standard_code: str
    assessor_code: str
    held_on: date
    venue: str | None
    created_at: datetime
    counts: dict[str, int] = Field(description="candidates, and assessments by status")


class EvidenceIn(Strict):
    description: str = Field(min_length=1, max_length=2000)
    years: StrictInt = Field(ge=0, le=60, description="years of experience in the occupation")


class CandidateIn(Strict):
    person_id: PersonId
    full_name: str = Field(
        min_length=1,
        max_length=200,
        description="as on the ID card checked by the centre; published only as initials",
    )
    route: Literal["training", "experience"]
    evidence: EvidenceIn | None = Field(
        default=None, description="required on the experience route"
    )

    @model_validator(mode="after")
    def _evidence_for_experience(self) -> CandidateIn:
        if self.route == "experience" and self.evidence is None:
            raise ValueError("the experience route needs evidence (description, years)")
        return self


class CandidatesIn(Strict):
    candidates: list[CandidateIn] = Field(min_length=1, max_length=5000)


class CandidateOut(BaseModel):
    person_id: str
    route: str
    registered_at: datetime
    created: bool = Field(description="false: the same registration existed")


class ResultIn(Strict):
    person_id: PersonId
    units: dict[UnitCode, bool] = Field(
        min_length=1, description="competency unit code -> passed; every required unit"
    )


class ResultsIn(Strict):
    results: list[ResultIn] = Field(min_length=1, max_length=5000)


class AssessmentOut(Output):
    assessment_id: str
    session_code: str | None
    person_id: str
    standard_code: str | None
    occupation: str
    level: int
    route: str | None
    passed: bool
    status: str = Field(description="awarded, awaiting-training or failed")
    failed_units: list[str] | None
    assessed_at: datetime
    certificate_number: str | None


class RecordedOut(AssessmentOut):
    created: bool = Field(description="false: the same results were recorded before")


# --- certificates ---------------------------------------------------------------------


class RevocationIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class CertificateOut(BaseModel):
    certificate_number: str
    person_id: str
    holder_name: str | None = Field(description="None once the person is erased")
    standard_code: str | None
    occupation: str
    level: int
    status: str
    issued_at: datetime
    valid_until: date
    renewed_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    expired_at: datetime | None
    verification_url: str
    credential_url: str


class VerificationOut(BaseModel):
    """What anyone may see: no name (initials only), no person id, no national ID."""

    certificate_number: str
    status: Literal["valid", "expired", "revoked"]
    standard_code: str
    standard_title: str
    occupation: str
    occupation_title: str
    level: int
    holder_initials: str | None
    issued_on: date
    valid_until: date
    renewed_on: date | None
    revoked_on: date | None
    credential_url: str
    status_list_url: str
    issuer: str = Field(description="the issuer's did:web; its keys at /.well-known/did.json")


# --- PDPA subject access: what certification holds about one person ----------------------


class HolderOut(Output):
    full_name: str | None
    recorded_at: datetime


class HeldTrainingRecordOut(Output):
    occupation: str
    completed_at: datetime


class HeldCandidateOut(Output):
    session_code: str
    route: str
    evidence_description: str | None
    evidence_years: int | None
    registered_at: datetime


class HeldAssessmentOut(Output):
    assessment_id: str
    session_code: str | None
    standard_code: str | None
    occupation: str
    level: int
    route: str | None
    passed: bool
    status: str
    assessed_at: datetime
    results: dict[str, bool] | None
    failed_units: list[str] | None
    certificate_number: str | None


class HeldCertificateOut(Output):
    certificate_number: str
    occupation: str
    level: int
    standard_code: str | None
    issued_at: datetime
    valid_until: date
    credential_issued_at: datetime | None
    renewed_at: datetime | None
    expired_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None


class CertificationHeld(BaseModel):
    service: Literal["certification"] = "certification"
    person_id: str
    holder: HolderOut | None = Field(description="the name the assessment centre recorded")
    training_records: list[HeldTrainingRecordOut]
    candidacies: list[HeldCandidateOut]
    assessments: list[HeldAssessmentOut]
    certificates: list[HeldCertificateOut]
