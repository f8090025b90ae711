"""Request shapes, validated once: used by the HTTP API and by the CSV importer alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from services.registry import domain
from shared.errors import DomainError
from shared.types import Input, Money, SafeDateTime, date_as_text

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
