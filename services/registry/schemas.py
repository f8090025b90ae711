"""Every HTTP request and response model of the registry.

Request shapes are validated once: the HTTP API and the CSV importer use the same ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from services.registry import domain, reference
from services.registry.tables import Consent, ImportJob, Person, Trainer
from shared.errors import DomainError
from shared.types import Input, Money, Output, SafeDateTime, date_as_text

ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", description="official 2-digit code")]
PlaceCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
OrgCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{9,15}$")]
ThaiName = Annotated[str, Field(min_length=1, max_length=100)]


def _rule(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Run a domain check as a pydantic validator: its DomainError becomes a field error."""

    def validate(value: Any) -> Any:
        if value is None or value == "":
            return None
        try:
            return check(value)
        except DomainError as error:
            raise ValueError(error.message) from error

    return validate


def _sex(value: str) -> str:
    if value not in domain.SEXES:
        raise DomainError(f"sex must be one of {sorted(domain.SEXES)}")
    return value


def _purpose(value: str) -> str:
    domain.check_purpose(value)
    return value


def _categories(value: list[str]) -> list[str]:
    domain.check_data_categories(value)
    return sorted(set(value))


NationalId = Annotated[str, AfterValidator(_rule(domain.national_id))]
BirthDate = Annotated[
    date | None,
    BeforeValidator(_rule(domain.birth_date)),
    BeforeValidator(date_as_text),  # runs first: {}, [], false and 0 are no dates
    Field(description="YYYY-MM-DD or DD/MM/YYYY; Buddhist Era years accepted"),
]
Sex = Annotated[str | None, AfterValidator(_rule(_sex)), Field(examples=["female"])]


class Strict(Input):
    """Unknown fields refused, text NFC without invisible characters (shared/types.py)."""


class ConsentIn(Strict):
    purpose: Annotated[str, AfterValidator(_rule(_purpose))] = Field(
        default=domain.LOAN_REFERRAL, examples=[domain.LOAN_REFERRAL]
    )
    lender_code: OrgCode | None = Field(default=None, description="None: any partner lender")
    data_categories: Annotated[list[str], AfterValidator(_rule(_categories))] = Field(
        default_factory=list, examples=[["contact"]]
    )
    expires_at: SafeDateTime | None = None


class AddressIn(Strict):
    house_no: str | None = Field(default=None, max_length=50)
    street: str | None = Field(default=None, max_length=200)
    village_code: PlaceCode | None = Field(default=None, description="a registered village")
    subdistrict: str | None = Field(default=None, max_length=100)
    district: str | None = Field(default=None, max_length=100)
    province_code: ProvinceCode


class PersonIn(Strict):
    national_id: NationalId = Field(examples=["1101700207030"])
    first_name_th: ThaiName
    last_name_th: ThaiName
    first_name_en: str | None = Field(default=None, max_length=100)
    last_name_en: str | None = Field(default=None, max_length=100)
    birth_date: BirthDate = None
    sex: Sex = None
    phone: Phone | None = None
    address: AddressIn
    consents: list[ConsentIn] = Field(default_factory=list)


class PersonPatch(Strict):
    """Corrections to a person; absent fields stay as they are."""

    first_name_th: ThaiName | None = None
    last_name_th: ThaiName | None = None
    first_name_en: str | None = Field(default=None, max_length=100)
    last_name_en: str | None = Field(default=None, max_length=100)
    birth_date: BirthDate = None
    sex: Sex = None
    phone: Phone | None = None
    address: AddressIn | None = None


class HouseholdIn(Strict):
    household_code: str | None = Field(default=None, min_length=1, max_length=64)
    province_code: ProvinceCode
    village_code: PlaceCode | None = None
    members: list[str] = Field(default_factory=list, description="person ids")
    monthly_income: Money | None = Field(default=None, description="THB per month")


class IncomeIn(Strict):
    monthly_income: Money = Field(description="THB per month")


class MemberIn(Input):
    person_id: str


class MergeIn(Input):
    survivor_id: str = Field(description="the record that stays")
    merged_id: str = Field(description="the record retired into the survivor")


class VillageIn(Strict):
    code: PlaceCode = Field(examples=["ubon-muang-sam-sip-01"])
    name_en: str = Field(min_length=1, max_length=200, examples=["Ban Nong Hai"])
    name_th: str | None = Field(default=None, min_length=1, max_length=200)
    province_code: ProvinceCode = Field(examples=["34"])
    district: str | None = Field(default=None, min_length=1, max_length=100)
    tourism_class: Literal["A", "B", "C", "D"] | None = Field(
        default=None,
        description="; ".join(f"{k} = {v}" for k, v in domain.TOURISM_CLASSES.items()),
    )


class LearningCentreIn(Strict):
    code: PlaceCode
    name_en: str = Field(min_length=1, max_length=200)
    name_th: str | None = Field(default=None, min_length=1, max_length=200)
    province_code: ProvinceCode
    district: str | None = Field(default=None, min_length=1, max_length=100)
    centre_type: str = Field(
        max_length=50, description="one of: " + ", ".join(reference.CENTRE_TYPES)
    )


class OrganisationIn(Strict):
    code: OrgCode = Field(examples=["gsb"])
    kind: str = Field(
        max_length=20, description="one of: " + ", ".join(sorted(domain.ORGANISATION_KINDS))
    )
    name_en: str = Field(min_length=1, max_length=200, examples=["Government Savings Bank"])
    name_th: str | None = Field(default=None, min_length=1, max_length=200)


OccupationCode = Annotated[
    str,
    Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64, examples=["health-massage"]),
]


class TrainerIn(Strict):
    person_id: str | None = Field(
        default=None, min_length=1, max_length=36, description="the trainer's registered person"
    )
    display_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="needed without a person_id"
    )
    phone: Phone | None = None
    occupations: Annotated[list[OccupationCode], AfterValidator(domain.occupation_list)] = Field(
        min_length=1, max_length=20, description="occupation codes the trainer teaches"
    )
    village_code: PlaceCode | None = Field(default=None, description="a registered village")
    role: Literal["lead", "member"] = "member"


# --- responses ---------------------------------------------------------------------------


class PersonCreated(BaseModel):
    person_id: str
    possible_duplicates: list[str] = Field(
        description="likely duplicates flagged for review (same name, birth date, province)"
    )


class ConsentOut(BaseModel):
    consent_id: str = Field(description="also the receipt id to give the person")
    person_id: str
    purpose: str
    lender_code: str | None
    data_categories: list[str]
    granted_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None

    @classmethod
    def of(cls, row: Consent) -> ConsentOut:
        data = row.model_dump()
        data["data_categories"] = [c for c in row.data_categories.split(",") if c]
        return cls.model_validate(data)


class AddressOut(BaseModel):
    house_no: str | None
    street: str | None
    village_code: str | None
    subdistrict: str | None
    district: str | None
    province_code: str | None


class PersonOut(BaseModel):
    person_id: str
    status: str
    national_id: str | None
    first_name_th: str | None
    last_name_th: str | None
    first_name_en: str | None
    last_name_en: str | None
    birth_date: date | None
    sex: str | None
    phone: str | None
    address: AddressOut
    household_id: str | None
    merged_into: str | None
    registered_at: datetime
    updated_at: datetime
    consents: list[ConsentOut]

    @classmethod
    def of(cls, person: Person, consents: list[Consent]) -> PersonOut:
        data = person.model_dump()
        data["address"] = AddressOut.model_validate(data)
        data["consents"] = [ConsentOut.of(c) for c in consents]
        return cls.model_validate(data)


class ImportOut(BaseModel):
    import_id: str
    file_name: str
    sha256: str
    size_bytes: int
    status: str = Field(description="queued, running, done or failed")
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_total: int | None = Field(description="data rows, counted at upload")
    rows_done: int
    created: int
    unchanged: int = Field(description="already registered with the same data")
    rejected: int = Field(description="rows rejected; see /imports/{id}/rejections")
    flagged: int = Field(description="people registered and flagged as likely duplicates")
    percent: float
    rows_per_second: float | None = Field(description="since the job started")
    error: str | None

    @classmethod
    def of(cls, job: ImportJob) -> ImportOut:
        total = job.rows_total or 0
        rate = None
        if job.started_at is not None:
            elapsed = ((job.finished_at or datetime.now(UTC)) - job.started_at).total_seconds()
            rate = round(job.rows_done / elapsed, 1) if elapsed > 0 else None
        return cls(
            **job.model_dump(),
            percent=round(100 * job.rows_done / total, 1) if total else 100.0,
            rows_per_second=rate,
        )


class RejectionOut(BaseModel):
    line: int
    field: str
    reason: str
    existing_person_id: str | None


class RejectionPageOut(BaseModel):
    import_id: str
    rejections: list[RejectionOut]
    next_after_line: int | None = Field(description="pass as after_line for the next page")


class ImportPersonOut(BaseModel):
    line: int = Field(description="the row's line in the file (the header is line 1)")
    person_id: str
    outcome: str = Field(description="created, or unchanged (registered already, same data)")


class ImportPeoplePageOut(BaseModel):
    import_id: str
    status: str = Field(description="the job's status: while queued or running, more may come")
    people: list[ImportPersonOut] = Field(description="accepted rows, in line order")
    next_after_line: int | None = Field(description="pass as after_line for the next page")


class PlaceOut(Output):
    code: str
    kind: str
    name_en: str
    name_th: str | None
    province_code: str | None
    district: str | None
    tourism_class: str | None
    centre_type: str | None
    registered_at: datetime


class OrganisationOut(Output):
    code: str
    kind: str
    name_en: str
    name_th: str | None
    registered_at: datetime


class TrainerOut(BaseModel):
    trainer_id: str
    person_id: str | None
    display_name: str | None
    phone: str | None
    occupations: list[str]
    village_code: str | None
    role: str
    registered_at: datetime

    @classmethod
    def of(cls, trainer: Trainer) -> TrainerOut:
        data = trainer.model_dump()
        data["occupations"] = domain.occupations_stored(trainer.occupations)
        return cls.model_validate(data)
