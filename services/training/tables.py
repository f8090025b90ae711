from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.audit import AuditColumns
from shared.auth import ApiKeyColumns
from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns
from shared.replica import (
    ReplicaHouseholdColumns,
    ReplicaMembershipColumns,
    ReplicaOrganisationColumns,
    ReplicaPersonColumns,
)


class Base(SQLModel, registry=registry()): ...


# --- replica of registry data, built from its events (never called directly) ------------


class KnownPerson(Base, ReplicaPersonColumns, table=True):
    province_code: str = Field(max_length=2)
    registered_at: datetime = Field(sa_type=UtcDateTime)


class KnownMembership(Base, ReplicaMembershipColumns, table=True): ...


class KnownHousehold(Base, ReplicaHouseholdColumns, table=True):
    low_income: bool
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class KnownTrainer(Base, table=True):
    __tablename__ = "known_trainer"
    trainer_id: str = Field(primary_key=True, max_length=36)
    person_id: str | None = Field(default=None, max_length=36)
    occupations: list[str] = Field(sa_type=JSON)
    village_code: str | None = Field(default=None, max_length=32)
    role: str = Field(max_length=10)


class KnownOrganisation(Base, ReplicaOrganisationColumns, table=True): ...


# --- training's own data --------------------------------------------------------------


class Programme(Base, table=True):
    __tablename__ = "programme"
    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    owner_code: str = Field(max_length=32)
    year: int
    occupations: list[str] = Field(sa_type=JSON)
    target_total: int
    created_at: datetime = Field(sa_type=UtcDateTime)


class ProgrammeTarget(Base, table=True):
    __tablename__ = "programme_target"
    programme_code: str = Field(primary_key=True, max_length=64)
    place_kind: str = Field(primary_key=True, max_length=20)  # estate | province | village
    place_code: str = Field(primary_key=True, max_length=32)
    target: int


class Course(Base, table=True):
    __tablename__ = "course"
    code: str = Field(primary_key=True, max_length=64)
    programme_code: str = Field(index=True, max_length=64)
    occupation: str = Field(max_length=64)
    title: str = Field(max_length=200)
    days: int
    hours: int
    day_plan: list[dict[str, Any]] = Field(sa_type=JSON)
    min_attendance_days: int
    practical_required: bool
    created_at: datetime = Field(sa_type=UtcDateTime)


class Cohort(Base, table=True):
    __tablename__ = "cohort"
    code: str = Field(primary_key=True, max_length=64)
    course_code: str = Field(index=True, max_length=64)
    programme_code: str = Field(index=True, max_length=64)
    occupation: str = Field(max_length=64)
    venue_kind: str = Field(max_length=20)  # estate | learning-centre | village
    venue_code: str = Field(max_length=32)
    venue_name: str | None = Field(default=None, max_length=200)
    dates: list[str] = Field(sa_type=JSON)  # ISO dates of the teaching days
    capacity: int
    village_cap: int | None = None
    one_per_household: bool = True
    trainer_ids: list[str] = Field(sa_type=JSON)
    status: str = Field(max_length=10)
    created_at: datetime = Field(sa_type=UtcDateTime)
    selected_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Application(Base, table=True):
    """One person's application to one cohort, through seat or waitlist to the outcome.
    Its id is also the enrolment id in LearnerEnrolled and TrainingCompleted."""

    __tablename__ = "application"
    __table_args__ = (
        UniqueConstraint("cohort_code", "person_id"),
        Index("ix_application_cohort_status", "cohort_code", "status"),
    )
    application_id: str = Field(primary_key=True, max_length=36)
    cohort_code: str = Field(max_length=64)
    programme_code: str = Field(index=True, max_length=64)
    occupation: str = Field(max_length=64)
    person_id: str = Field(index=True, max_length=36)
    status: str = Field(max_length=20)
    applied_at: datetime = Field(sa_type=UtcDateTime)
    # Ranking inputs, frozen when ranked so the explanation stays true later.
    province_code: str | None = Field(default=None, max_length=2)
    village_code: str | None = Field(default=None, max_length=32)
    household_id: str | None = Field(default=None, max_length=36)
    income_band: str | None = Field(default=None, max_length=10)
    band_floor: int | None = None
    band_ceiling: int | None = None
    rank: int | None = None
    why: str | None = Field(default=None, max_length=1000)
    practical_passed: bool | None = None
    days_attended: int | None = None
    outcome_reason: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class Attendance(Base, table=True):
    __tablename__ = "attendance"
    application_id: str = Field(primary_key=True, max_length=36)
    day: date = Field(primary_key=True)
    present: bool
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class ApiKey(Base, ApiKeyColumns, table=True): ...


class AuditEntry(Base, AuditColumns, table=True): ...


class Outbox(Base, OutboxColumns, table=True): ...


class Inbox(Base, InboxColumns, table=True): ...
