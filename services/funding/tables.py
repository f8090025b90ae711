from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, text
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
    ReplicaPersonColumns,
)


class Base(SQLModel, registry=registry()): ...


# --- replica of registry and certification data, built from their events ------------------


class KnownPerson(Base, ReplicaPersonColumns, table=True):
    province_code: str | None = Field(default=None, max_length=2)
    birth_year: int | None = None


class KnownMembership(Base, ReplicaMembershipColumns, table=True): ...


class KnownHousehold(Base, ReplicaHouseholdColumns, table=True):
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class ConsentRecord(Base, table=True):
    """Replica of the registry's ConsentGranted / ConsentWithdrawn."""

    __tablename__ = "consent_record"
    consent_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    purpose: str = Field(max_length=50)
    lender_code: str | None = Field(default=None, max_length=32)
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SharedData(Base, table=True):
    """Personal data a live consent lets lenders receive (PersonalDataShared); dropped on
    withdrawal and erasure (docs/decisions/0010)."""

    __tablename__ = "shared_data"
    consent_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    lender_code: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] = Field(sa_type=JSON)
    shared_at: datetime = Field(sa_type=UtcDateTime)


class Disclosure(Base, table=True):
    """Which lender received which of a person's data categories, and when: one row per
    LoanReferralShared staged with applicant data, or partner API answer carrying it (PDPA
    subject access). Holds no personal data itself: kept after erasure as the record."""

    __tablename__ = "disclosure"
    disclosure_id: str = Field(primary_key=True, max_length=64)
    person_id: str = Field(index=True, max_length=36)
    lender_code: str = Field(max_length=32)
    referral_id: str = Field(max_length=36)
    via: str = Field(max_length=10)  # topic (and its webhooks) | api
    event_id: str | None = Field(default=None, max_length=64)  # the LoanReferralShared row
    categories: list[str] = Field(sa_type=JSON)
    shared_at: datetime = Field(sa_type=UtcDateTime)


class Qualification(Base, table=True):
    """Replica of certification's QualificationAwarded (+ Revoked, Expired, Renewed)."""

    __tablename__ = "qualification"
    certificate_number: str = Field(primary_key=True, max_length=32)
    person_id: str = Field(index=True, max_length=36)
    occupation: str = Field(max_length=64)
    level: int
    valid_until: date
    status: str = Field(default="valid", max_length=10)  # valid | revoked | expired


# --- funding's own data -------------------------------------------------------------------


class Lender(Base, table=True):
    __tablename__ = "lender"
    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    kind: str = Field(default="lender", max_length=10)  # lender | fund


class Product(Base, table=True):
    __tablename__ = "product"
    code: str = Field(primary_key=True, max_length=64)
    lender_code: str = Field(foreign_key="lender.code", index=True, max_length=32)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)


class RuleVersion(Base, table=True):
    """One version of a product's rules: draft -> live -> retired; one live per product."""

    __tablename__ = "rule_version"
    __table_args__ = (
        Index(
            "ux_rule_version_live",
            "product_code",
            unique=True,
            postgresql_where=text("status = 'live'"),
            sqlite_where=text("status = 'live'"),
        ),
    )
    product_code: str = Field(primary_key=True, foreign_key="product.code", max_length=64)
    version: int = Field(primary_key=True)
    status: str = Field(max_length=10)  # draft | live | retired
    rules: dict[str, Any] = Field(sa_type=JSON)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UtcDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Referral(Base, table=True):
    __tablename__ = "referral"
    # Never two OPEN referrals for a person and product, whatever the delivery order; a
    # closed one (declined, expired, ...) does not stop a later one.
    __table_args__ = (
        Index(
            "ux_referral_open",
            "person_id",
            "product_code",
            unique=True,
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        Index("ix_referral_lender_status", "lender_code", "status"),
    )
    referral_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(index=True, max_length=36)
    product_code: str = Field(index=True, max_length=64)
    lender_code: str = Field(max_length=32)
    rule_version: int
    certificate_number: str = Field(max_length=32)
    occupation: str = Field(max_length=64)
    level: int
    valid_until: date
    matched_clauses: list[str] = Field(sa_type=JSON)
    status: str = Field(max_length=20)
    is_open: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # held -> created
    respond_by: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    # The LoanReferralShared outbox row: once the broker acknowledged it, "delivered".
    shared_event_id: str | None = Field(default=None, max_length=64)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    delivered_via: str | None = Field(default=None, max_length=10)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    approved_amount: int | None = None
    decline_reason: str | None = Field(default=None, max_length=50)
    disbursed_amount: int | None = None
    disbursed_on: date | None = None
    closed_reason: str | None = Field(default=None, max_length=50)


class PartnerKey(Base, table=True):
    """A lender's API key: scoped to one lender; only the SHA-256 of the token is kept."""

    __tablename__ = "partner_key"
    key_id: str = Field(primary_key=True, max_length=36)
    lender_code: str = Field(foreign_key="lender.code", index=True, max_length=32)
    name: str = Field(max_length=100)
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class IdempotentRequest(Base, table=True):
    """A partner write and its response, per lender and Idempotency-Key."""

    __tablename__ = "idempotent_request"
    lender_code: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(sa_type=JSON)
    created_at: datetime = Field(sa_type=UtcDateTime)


class WebhookEndpoint(Base, table=True):
    __tablename__ = "webhook_endpoint"
    endpoint_id: str = Field(primary_key=True, max_length=36)
    lender_code: str = Field(foreign_key="lender.code", index=True, max_length=32)
    url: str = Field(max_length=2000)
    # Needed in clear to sign (HMAC); shown once at creation, never listed.
    secret: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookDelivery(Base, table=True):
    """The persisted webhook queue: staged with the event, sent and retried by a worker."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)
    delivery_id: str = Field(primary_key=True, max_length=36)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.endpoint_id", max_length=36)
    lender_code: str = Field(max_length=32)
    referral_id: str = Field(index=True, max_length=36)
    event_id: str = Field(max_length=64)
    ce_type: str = Field(max_length=255)
    body: str = Field(sa_type=Text)  # the CloudEvent, structured JSON
    status: str = Field(max_length=10)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ApiKey(Base, ApiKeyColumns, table=True): ...


class AuditEntry(Base, AuditColumns, table=True): ...


class Outbox(Base, OutboxColumns, table=True): ...


class Inbox(Base, InboxColumns, table=True): ...
