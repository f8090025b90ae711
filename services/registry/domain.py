"""Registry rules: identity, dates, income bands, consent vocabulary, organisations, trainers.

Pure: no I/O. Checks against the shipped reference data live in reference.py."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime

from stdnum.exceptions import ValidationError
from stdnum.th import pin

from shared.errors import Conflict, DomainError

LOAN_REFERRAL = "loan-referral"
PURPOSES = frozenset({LOAN_REFERRAL})
# What a person may agree to share for a purpose; identity = national ID and name.
DATA_CATEGORIES = frozenset({"contact", "identity", "address", "household-income"})
# The fields each category lets a lender receive (PersonalDataShared, decision 0010).
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "identity": (
        "national_id",
        "first_name_th",
        "last_name_th",
        "first_name_en",
        "last_name_en",
        "birth_date",
    ),
    "contact": ("phone",),
    "address": ("house_no", "street", "subdistrict", "district", "province_code", "village_code"),
    "household-income": ("monthly_income",),
}
assert set(CATEGORY_FIELDS) == DATA_CATEGORIES
SEXES = frozenset({"female", "male", "other"})
TOURISM_CLASSES = {
    "A": "tourism potential, ready for promotion",
    "B": "tourism potential, needs infrastructure",
    "C": "learning potential",
    "D": "community products",
}
ORGANISATION_KINDS = frozenset(
    {"programme-owner", "training-partner", "assessor", "lender", "fund"}
)
# Organisations a person may consent to share with (a consent's lender_code).
LENDER_KINDS = frozenset({"lender", "fund"})
TRAINER_ROLES = frozenset({"lead", "member"})
PLACE_KINDS = ("province", "estate", "village", "learning-centre")
# CDD's Sammachiv model: a village has at most one lead trainer and four members.
LEADS_PER_VILLAGE = 1
MEMBERS_PER_VILLAGE = 4
OCCUPATIONS_MAX_CHARS = 500  # the table keeps them comma-separated in 500 characters

# The Buddhist Era is 543 years ahead; a year this large can only be BE.
BE_OFFSET = 543
_BE_FROM = 2400
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def national_id(value: str) -> str:
    """The compact 13-digit Thai personal ID, or DomainError saying what is wrong with it."""
    try:
        return str(pin.validate(value))
    except ValidationError as error:
        raise DomainError(f"not a valid Thai national ID: {error}", field="national_id") from error


def birth_date(value: str | date, *, today: date | None = None) -> date:
    """ISO date from `YYYY-MM-DD` or `DD/MM/YYYY`, in Gregorian or Buddhist Era years."""
    if isinstance(value, date):
        parsed = value
    else:
        text = value.strip()
        dmy = _DMY.match(text)
        try:
            if dmy:
                day, month, year = (int(g) for g in dmy.groups())
            else:
                year, month, day = (int(p) for p in text.split("-"))
            if year >= _BE_FROM:
                year -= BE_OFFSET
            parsed = date(year, month, day)
        except ValueError as error:
            raise DomainError(
                f"birth date {value!r} is not YYYY-MM-DD or DD/MM/YYYY (Gregorian or BE)",
                field="birth_date",
            ) from error
    today = today or datetime.now(UTC).date()
    if parsed > today or parsed.year < 1900:
        raise DomainError(f"birth date {parsed.isoformat()} is not plausible", field="birth_date")
    return parsed


@dataclass(frozen=True)
class IncomeBand:
    label: str
    floor: int
    ceiling: int | None  # exclusive; None for the top band


def income_band(monthly_income: int, edges: list[int]) -> IncomeBand:
    """The band a monthly income falls in; labels B01, B02, ... sort like the incomes."""
    if monthly_income < 0:
        raise DomainError("monthly income cannot be negative", field="monthly_income")
    index = bisect_right(edges, monthly_income) - 1
    ceiling = edges[index + 1] if index + 1 < len(edges) else None
    return IncomeBand(label=f"B{index + 1:02d}", floor=edges[index], ceiling=ceiling)


def is_low_income(monthly_income: int, threshold: int) -> bool:
    return monthly_income < threshold


def check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise DomainError(
            f"unknown purpose {purpose!r}; expected one of {sorted(PURPOSES)}", field="purpose"
        )


def check_data_categories(categories: list[str]) -> None:
    unknown = sorted(set(categories) - DATA_CATEGORIES)
    if unknown:
        raise DomainError(
            f"unknown data categories {unknown}; expected some of {sorted(DATA_CATEGORIES)}",
            field="data_categories",
        )


def shared_fields(categories: list[str]) -> set[str]:
    """The fields a consent with these categories lets lenders receive."""
    return {name for category in categories for name in CATEGORY_FIELDS.get(category, ())}


def check_organisation_kind(kind: str, *, field: str = "kind") -> None:
    if kind not in ORGANISATION_KINDS:
        raise DomainError(
            f"unknown organisation kind {kind!r}; expected one of {sorted(ORGANISATION_KINDS)}",
            field=field,
        )


def check_village_team(role: str, leads: int, members: int) -> None:
    """May one more trainer of `role` join a village that has these already?"""
    if role == "lead" and leads >= LEADS_PER_VILLAGE:
        raise Conflict("this village already has its lead trainer", field="role")
    if role == "member" and members >= MEMBERS_PER_VILLAGE:
        raise Conflict(
            f"this village already has {MEMBERS_PER_VILLAGE} member trainers "
            f"(a village has one lead and at most {MEMBERS_PER_VILLAGE} members)",
            field="village_code",
        )


def occupation_list(codes: list[str]) -> list[str]:
    """A trainer's occupation codes, each once, in the caller's order; they must fit the table."""
    unique = list(dict.fromkeys(codes))
    if len(",".join(unique)) > OCCUPATIONS_MAX_CHARS:
        raise ValueError(f"occupation codes take more than {OCCUPATIONS_MAX_CHARS} characters")
    return unique


def occupations_stored(text: str) -> list[str]:
    """The occupation codes of a trainer as the table keeps them (comma-separated)."""
    return [code for code in text.split(",") if code]
