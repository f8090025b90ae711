from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns


class Base(SQLModel, registry=registry()):
    pass


class TrainingRecord(Base, table=True):
    """Replica of TrainingCompleted: who may be certified in what."""

    __tablename__ = "training_record"
    person_id: str = Field(primary_key=True, max_length=36)
    occupation: str = Field(primary_key=True, max_length=64)
    completed_at: datetime = Field(sa_type=UtcDateTime)


class Assessment(Base, table=True):
    __tablename__ = "assessment"
    assessment_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    passed: bool
    status: str = Field(max_length=20, index=True)
    assessed_at: datetime = Field(sa_type=UtcDateTime)
    certificate_number: str | None = Field(default=None, max_length=32)


class Certificate(Base, table=True):
    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("person_id", "occupation", "level"),)
    certificate_number: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    issued_at: datetime = Field(sa_type=UtcDateTime)
    valid_until: date


class Outbox(Base, OutboxColumns, table=True):
    __tablename__ = "outbox"


class Inbox(Base, InboxColumns, table=True):
    __tablename__ = "inbox"
