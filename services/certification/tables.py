from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.audit import AuditColumns
from shared.auth import ApiKeyColumns
from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns
from shared.replica import ReplicaOrganisationColumns


class Base(SQLModel, registry=registry()): ...


# --- replicas, built from other services' events (never called directly) ----------------


class TrainingRecord(Base, table=True):
    """Replica of TrainingCompleted: who may be certified in what on the training route."""

    __tablename__ = "training_record"
    person_id: str = Field(primary_key=True, max_length=36)
    occupation: str = Field(primary_key=True, max_length=64)
    completed_at: datetime = Field(sa_type=UtcDateTime)


class KnownOrganisation(Base, ReplicaOrganisationColumns, table=True):
    """Replica of OrganisationRegistered: sessions need a known assessor."""


# --- certification's own data ---------------------------------------------------------


class Standard(Base, table=True):
    """An occupational standard: occupation, level and its competency units."""

    __tablename__ = "standard"
    __table_args__ = (UniqueConstraint("occupation", "level"),)
    code: str = Field(primary_key=True, max_length=64)
    occupation: str = Field(max_length=64)
    occupation_title: str = Field(max_length=200)
    level: int
    title: str = Field(max_length=200)
    valid_years: int
    units: list[dict[str, Any]] = Field(sa_type=JSON)  # [{code, title, required}]
    source: str = Field(max_length=10)  # shipped | operator
    created_at: datetime = Field(sa_type=UtcDateTime)


class AssessmentSession(Base, table=True):
    __tablename__ = "assessment_session"
    code: str = Field(primary_key=True, max_length=64)
    standard_code: str = Field(index=True, max_length=64)
    assessor_code: str = Field(max_length=32)
    held_on: date
    venue: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)


class Candidate(Base, table=True):
    """A person registered for a session by the assessment centre (which checks the ID card)."""

    __tablename__ = "candidate"
    session_code: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(primary_key=True, max_length=36, index=True)
    route: str = Field(max_length=10)  # training | experience
    evidence_description: str | None = Field(default=None, sa_type=Text)
    evidence_years: int | None = None
    registered_at: datetime = Field(sa_type=UtcDateTime)


class Holder(Base, table=True):
    """The holder's name as the assessment centre recorded it: kept only here, shown
    publicly as initials, dropped on PersonErased (docs/decisions/0011)."""

    __tablename__ = "holder"
    person_id: str = Field(primary_key=True, max_length=36)
    full_name: str | None = Field(default=None, max_length=200)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Assessment(Base, table=True):
    """One candidate's results in one session, and what they decided."""

    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("session_code", "person_id", name="uq_assessment_session_person"),
    )
    assessment_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    passed: bool
    status: str = Field(max_length=20, index=True)
    assessed_at: datetime = Field(sa_type=UtcDateTime)
    certificate_number: str | None = Field(default=None, max_length=32)
    # Null only on assessments recorded before standards existed (revision 0001).
    session_code: str | None = Field(default=None, max_length=64)
    standard_code: str | None = Field(default=None, max_length=64)
    route: str | None = Field(default=None, max_length=10)
    results: dict[str, bool] | None = Field(default=None, sa_type=JSON)  # unit code -> passed
    failed_units: list[str] | None = Field(default=None, sa_type=JSON)


class Certificate(Base, table=True):
    __tablename__ = "certificate"
    __table_args__ = (
        Index("ix_certificate_holder", "person_id", "occupation", "level"),
        UniqueConstraint("status_index", name="uq_certificate_status_index"),
    )
    certificate_number: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    issued_at: datetime = Field(sa_type=UtcDateTime)
    valid_until: date = Field(index=True)
    standard_code: str | None = Field(default=None, max_length=64)
    # Its bit in the revocation status list (random, so neighbours say nothing).
    status_index: int | None = None
    # When the current credential was issued: at award, again at each renewal.
    credential_issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revocation_reason: str | None = Field(default=None, max_length=500)
    # Set when QualificationExpired is staged for the current valid-until; renewal clears it.
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    renewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SigningKey(Base, table=True):
    """Ed25519 keys the service signs with (the newest with a private part) or has signed
    with (published so older credentials still verify)."""

    __tablename__ = "signing_key"
    key_id: str = Field(primary_key=True, max_length=40)
    public_multibase: str = Field(max_length=100)
    private_pem: str | None = Field(default=None, sa_type=Text)  # None: supplied by settings
    created_at: datetime = Field(sa_type=UtcDateTime)


class ApiKey(Base, ApiKeyColumns, table=True): ...


class AuditEntry(Base, AuditColumns, table=True): ...


class Outbox(Base, OutboxColumns, table=True): ...


class Inbox(Base, InboxColumns, table=True): ...
