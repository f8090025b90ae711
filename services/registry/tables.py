from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns


class Base(SQLModel, registry=registry()):
    pass


class Person(Base, table=True):
    __tablename__ = "person"
    person_id: str = Field(primary_key=True, max_length=36)
    national_id: str = Field(max_length=13, unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    birth_date: date | None = None
    province_code: str = Field(max_length=2)
    phone: str | None = Field(default=None, max_length=20)
    registered_at: datetime = Field(sa_type=UtcDateTime)


class Consent(Base, table=True):
    __tablename__ = "consent"
    consent_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(foreign_key="person.person_id", index=True, max_length=36)
    purpose: str = Field(max_length=50)
    lender_code: str | None = Field(default=None, max_length=32)
    granted_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Outbox(Base, OutboxColumns, table=True):
    __tablename__ = "outbox"


class Inbox(Base, InboxColumns, table=True):
    __tablename__ = "inbox"
