"""The read model: the journey's facts as the broadcast topics tell them, keyed so that
events may arrive in any order (a topic replayed before another fills its own columns).

No table holds a person id. A person is a `subject`: the SHA-256 of their id while they
are known, a random id once erased (docs/decisions/0017), so an erased person's rows can no
longer be found from their id while the figures they are part of stay right.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.audit import AuditColumns
from shared.auth import ApiKeyColumns
from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns

SUBJECT = 64  # hex SHA-256, or a uuid4 hex after erasure


class Base(SQLModel, registry=registry()): ...


# --- people and places (registry) ---------------------------------------------------------


class Person(Base, table=True):
    __tablename__ = "person"
    subject: str = Field(primary_key=True, max_length=SUBJECT)
    province_code: str | None = Field(default=None, max_length=2)
    village_code: str | None = Field(default=None, max_length=32)
    registered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Redirect(Base, table=True):
    """A subject that is no longer used: merged into `to_subject`, or erased (None: each
    later event of theirs counts under a new random subject, linked to nothing)."""

    __tablename__ = "redirect"
    subject: str = Field(primary_key=True, max_length=SUBJECT)
    to_subject: str | None = Field(default=None, max_length=SUBJECT)


class Household(Base, table=True):
    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=36)
    province_code: str | None = Field(default=None, max_length=2)
    village_code: str | None = Field(default=None, max_length=32)


class Membership(Base, table=True):
    __tablename__ = "membership"
    household_id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(primary_key=True, max_length=SUBJECT, index=True)
    joined_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class HouseholdIncome(Base, table=True):
    __tablename__ = "household_income"
    household_id: str = Field(primary_key=True, max_length=36)
    recorded_at: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    income_band: str = Field(max_length=10)
    band_floor: int
    low_income: bool


class Village(Base, table=True):
    __tablename__ = "village"
    village_code: str = Field(primary_key=True, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    province_code: str | None = Field(default=None, max_length=2)
    district: str | None = Field(default=None, max_length=100)


class Organisation(Base, table=True):
    __tablename__ = "organisation"
    code: str = Field(primary_key=True, max_length=32)
    kind: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=200)


# --- programmes and learners (training) ---------------------------------------------------


class Programme(Base, table=True):
    __tablename__ = "programme"
    code: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    owner_code: str | None = Field(default=None, max_length=32)
    year: int | None = None
    target_total: int | None = None
    # [{"place_kind", "place_code", "target"}], as ProgrammeRegistered tells them.
    targets: list[dict[str, object]] = Field(default_factory=list, sa_type=JSON)


class Cohort(Base, table=True):
    __tablename__ = "cohort"
    code: str = Field(primary_key=True, max_length=64)
    programme_code: str | None = Field(default=None, max_length=64)
    occupation: str | None = Field(default=None, max_length=64)
    venue_kind: str | None = Field(default=None, max_length=20)
    venue_code: str | None = Field(default=None, max_length=32)
    venue_name: str | None = Field(default=None, max_length=200)
    capacity: int | None = None
    village_cap: int | None = None
    starts_on: date | None = None


class Application(Base, table=True):
    """One application's way through a cohort (its id is also the enrolment id)."""

    __tablename__ = "application"
    __table_args__ = (Index("ix_application_subject_occupation", "subject", "occupation"),)
    application_id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(max_length=SUBJECT)
    programme_code: str = Field(index=True, max_length=64)
    cohort_code: str = Field(max_length=64)
    occupation: str = Field(max_length=64)
    applied_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    enrolled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    rank: int | None = None
    waitlisted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    waitlist_reason: str | None = Field(default=None, max_length=200)
    withdrew_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdraw_reason: str | None = Field(default=None, max_length=500)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    not_completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    not_completed_reason: str | None = Field(default=None, max_length=500)


# --- certificates (certification) ---------------------------------------------------------


class Certificate(Base, table=True):
    __tablename__ = "certificate"
    __table_args__ = (Index("ix_certificate_subject_occupation", "subject", "occupation"),)
    certificate_number: str = Field(primary_key=True, max_length=32)
    subject: str = Field(max_length=SUBJECT)
    occupation: str = Field(max_length=64)
    level: int
    awarded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AssessmentFailure(Base, table=True):
    __tablename__ = "assessment_failure"
    assessment_id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(max_length=SUBJECT, index=True)
    occupation: str = Field(max_length=64)
    failed_units: list[str] = Field(default_factory=list, sa_type=JSON)
    assessed_at: datetime = Field(sa_type=UtcDateTime)


# --- products and referrals (funding) -----------------------------------------------------


class Product(Base, table=True):
    __tablename__ = "product"
    code: str = Field(primary_key=True, max_length=64)
    lender_code: str = Field(max_length=32)
    lender_name: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    sla_days: int | None = None
    rule_version: int | None = None


class Referral(Base, table=True):
    __tablename__ = "referral"
    referral_id: str = Field(primary_key=True, max_length=36)
    subject: str = Field(max_length=SUBJECT, index=True)
    lender_code: str = Field(max_length=32)
    product_code: str = Field(max_length=64)
    certificate_number: str | None = Field(default=None, max_length=32, index=True)
    held_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    approved_amount: int | None = None
    declined_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decline_reason: str | None = Field(default=None, max_length=50)
    disbursed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    disbursed_amount: int | None = None
    expired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancel_reason: str | None = Field(default=None, max_length=50)


# Every read-model table: what a rebuild empties (the inbox with them).
READ_MODEL: tuple[type[Base], ...] = (
    Person,
    Redirect,
    Household,
    Membership,
    HouseholdIncome,
    Village,
    Organisation,
    Programme,
    Cohort,
    Application,
    Certificate,
    AssessmentFailure,
    Product,
    Referral,
)
# Tables with a `subject` column: what a merge or an erasure re-keys.
BY_SUBJECT: tuple[type[Base], ...] = (
    Membership,
    Application,
    Certificate,
    AssessmentFailure,
    Referral,
)


class ApiKey(Base, ApiKeyColumns, table=True): ...


class AuditEntry(Base, AuditColumns, table=True): ...


class Outbox(Base, OutboxColumns, table=True): ...


class Inbox(Base, InboxColumns, table=True): ...
