"""Registry tables. Personal data lives only here; erasure blanks it and keeps a tombstone."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, LargeBinary, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.audit import AuditColumns
from shared.auth import ApiKeyColumns
from shared.db import UtcDateTime
from shared.inbox import InboxColumns
from shared.outbox import OutboxColumns


class Base(SQLModel, registry=registry()): ...


class Person(Base, table=True):
    """A person. `status`: active, merged (into `merged_into`) or erased (PDPA tombstone)."""

    __tablename__ = "person"
    __table_args__ = (
        # Likely duplicates: same Thai name and birth date in the same province.
        Index("ix_person_likely_duplicate", "last_name_th", "first_name_th", "birth_date"),
    )
    person_id: str = Field(primary_key=True, max_length=36)
    status: str = Field(default="active", max_length=10, index=True)
    # Personal data: all None once erased. national_id is None once merged or erased.
    national_id: str | None = Field(default=None, max_length=13, unique=True)
    first_name_th: str | None = Field(default=None, max_length=100)
    last_name_th: str | None = Field(default=None, max_length=100)
    first_name_en: str | None = Field(default=None, max_length=100)
    last_name_en: str | None = Field(default=None, max_length=100)
    birth_date: date | None = None
    sex: str | None = Field(default=None, max_length=10)
    phone: str | None = Field(default=None, max_length=20)
    house_no: str | None = Field(default=None, max_length=50)
    street: str | None = Field(default=None, max_length=200)
    subdistrict: str | None = Field(default=None, max_length=100)
    district: str | None = Field(default=None, max_length=100)
    # Location codes (not personal on their own; they travel in events).
    province_code: str | None = Field(default=None, max_length=2)
    village_code: str | None = Field(default=None, max_length=32)
    household_id: str | None = Field(default=None, max_length=36, index=True)
    merged_into: str | None = Field(default=None, max_length=36)
    registered_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DuplicateFlag(Base, table=True):
    """A likely duplicate kept for an operator's review; never merged silently."""

    __tablename__ = "duplicate_flag"
    flag_id: str = Field(primary_key=True, max_length=36)
    person_id: str = Field(max_length=36, index=True)
    candidate_id: str = Field(max_length=36, index=True)
    reason: str = Field(max_length=200)
    status: str = Field(default="open", max_length=10, index=True)  # open, dismissed, merged
    flagged_at: datetime = Field(sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolved_by: str | None = Field(default=None, max_length=100)


class Household(Base, table=True):
    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=36)
    # The programme's own household code (e.g. from a village survey), for idempotent imports.
    household_code: str | None = Field(default=None, max_length=64, unique=True)
    province_code: str = Field(max_length=2)
    village_code: str | None = Field(default=None, max_length=32)
    monthly_income: int | None = None  # latest record; history in income_record
    income_band: str | None = Field(default=None, max_length=10)
    low_income: bool | None = None
    registered_at: datetime = Field(sa_type=UtcDateTime)


class IncomeRecord(Base, table=True):
    __tablename__ = "income_record"
    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(foreign_key="household.household_id", max_length=36, index=True)
    monthly_income: int
    income_band: str = Field(max_length=10)
    low_income: bool
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    recorded_by: str = Field(max_length=100)


class Consent(Base, table=True):
    __tablename__ = "consent"
    consent_id: str = Field(primary_key=True, max_length=36)  # also the person's receipt id
    person_id: str = Field(foreign_key="person.person_id", index=True, max_length=36)
    purpose: str = Field(max_length=50)
    lender_code: str | None = Field(default=None, max_length=32)
    data_categories: str = Field(default="", max_length=200)  # comma-separated
    granted_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    withdrawal_reason: str | None = Field(default=None, max_length=20)


class Place(Base, table=True):
    """Provinces and estates (shipped as data), villages and learning centres (registered)."""

    __tablename__ = "place"
    code: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=20, index=True)  # province, estate, village, learning-centre
    name_en: str = Field(max_length=200)
    name_th: str | None = Field(default=None, max_length=200)
    province_code: str | None = Field(default=None, max_length=2, index=True)
    district: str | None = Field(default=None, max_length=100)
    tourism_class: str | None = Field(default=None, max_length=1)  # villages: A, B, C, D
    centre_type: str | None = Field(default=None, max_length=50)  # learning centres
    registered_at: datetime = Field(sa_type=UtcDateTime)


class Organisation(Base, table=True):
    __tablename__ = "organisation"
    code: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=20, index=True)
    name_en: str = Field(max_length=200)
    name_th: str | None = Field(default=None, max_length=200)
    registered_at: datetime = Field(sa_type=UtcDateTime)


class Trainer(Base, table=True):
    """A community trainer (sage). Name and phone are personal data and stay here."""

    __tablename__ = "trainer"
    trainer_id: str = Field(primary_key=True, max_length=36)
    person_id: str | None = Field(default=None, max_length=36, index=True)
    display_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    occupations: str = Field(max_length=500)  # comma-separated occupation codes
    village_code: str | None = Field(default=None, max_length=32, index=True)
    role: str = Field(max_length=10)  # lead, member
    registered_at: datetime = Field(sa_type=UtcDateTime)


class AuditEntry(Base, AuditColumns, table=True):
    """Who changed what and when. Field names only, never values: erasure leaves it clean."""


class ImportJob(Base, table=True):
    """A CSV import. `rows_done` is committed with each batch, so a restart resumes there."""

    __tablename__ = "import_job"
    import_id: str = Field(primary_key=True, max_length=36)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)
    size_bytes: int
    status: str = Field(max_length=10, index=True)  # queued, running, done, failed
    actor: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    rows_total: int | None = None  # data rows, counted on upload
    rows_done: int = 0
    created: int = 0
    unchanged: int = 0
    rejected: int = 0
    flagged: int = 0
    error: str | None = Field(default=None, sa_type=Text)


class ImportChunk(Base, table=True):
    """The uploaded file in order, kept in the database so any replica can resume the job."""

    __tablename__ = "import_chunk"
    import_id: str = Field(primary_key=True, max_length=36)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=LargeBinary)


class ImportRejection(Base, table=True):
    """One rejected row: line, field and reason; no copy of the row's personal data."""

    __tablename__ = "import_rejection"
    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(max_length=36, index=True)
    line: int
    field: str = Field(max_length=50)
    reason: str = Field(max_length=500)
    existing_person_id: str | None = Field(default=None, max_length=36)


class ImportPerson(Base, table=True):
    """An accepted row's person (created, or found unchanged), by line: how the uploader learns
    the person ids of its rows without the registry handing national IDs back."""

    __tablename__ = "import_person"
    import_id: str = Field(primary_key=True, max_length=36)
    line: int = Field(primary_key=True)
    person_id: str = Field(max_length=36)
    outcome: str = Field(max_length=10)  # created or unchanged


class ApiKey(Base, ApiKeyColumns, table=True): ...


class Outbox(Base, OutboxColumns, table=True): ...


class Inbox(Base, InboxColumns, table=True): ...
