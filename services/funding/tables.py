from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns


class Base(SQLModel, registry=registry()):
    pass


class Lender(Base, table=True):
    __tablename__ = "lender"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)


class Product(Base, table=True):
    __tablename__ = "product"
    code: str = Field(primary_key=True, max_length=64)
    lender_code: str = Field(foreign_key="lender.code", index=True, max_length=32)
    name: str = Field(max_length=200)
    occupations: list[str] = Field(sa_type=JSON)
    min_level: int


class ConsentRecord(Base, table=True):
    """Replica of the registry's ConsentGranted."""

    __tablename__ = "consent_record"
    consent_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    purpose: str = Field(max_length=50)
    lender_code: str | None = Field(default=None, max_length=32)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Qualification(Base, table=True):
    """Replica of the certification service's QualificationAwarded."""

    __tablename__ = "qualification"
    certificate_number: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    valid_until: date


class Referral(Base, table=True):
    __tablename__ = "referral"
    # Never two referrals for the same person and product, whatever the delivery order.
    __table_args__ = (UniqueConstraint("person_id", "product_code"),)
    referral_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    product_code: str = Field(max_length=64)
    lender_code: str = Field(index=True, max_length=32)
    certificate_number: str = Field(max_length=32)
    matched_clauses: list[str] = Field(sa_type=JSON)
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UtcDateTime)


class Outbox(Base, OutboxColumns, table=True):
    __tablename__ = "outbox"


class Inbox(Base, InboxColumns, table=True):
    __tablename__ = "inbox"
