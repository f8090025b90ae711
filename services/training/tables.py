from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns


class Base(SQLModel, registry=registry()):
    pass


class KnownPerson(Base, table=True):
    """Replica of the registry's people, built from PersonRegistered (never called directly)."""

    __tablename__ = "known_person"
    person_id: str = Field(primary_key=True, max_length=36)
    province_code: str = Field(max_length=2)
    registered_at: datetime = Field(sa_type=UtcDateTime)


class Enrolment(Base, table=True):
    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("person_id", "cohort_code"),)
    enrolment_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    programme_code: str = Field(index=True, max_length=64)
    cohort_code: str = Field(max_length=64)
    occupation: str = Field(max_length=64)
    status: str = Field(max_length=20)
    hours: int | None = None
    reason: str | None = Field(default=None, max_length=500)
    enrolled_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Outbox(Base, OutboxColumns, table=True):
    __tablename__ = "outbox"


class Inbox(Base, InboxColumns, table=True):
    __tablename__ = "inbox"
