"""Bounded input: the shared types refuse what gave 500s or was silently coerced."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.funding.domain import Rules
from services.funding.schemas import DisbursementIn
from services.registry.schemas import ConsentIn, HouseholdIn, PersonIn
from services.training.schemas import CohortIn
from shared.types import MAX_MONEY, Input, SafeDate, SafeDateTime, Text


def fields_at_fault(model: type[BaseModel], data: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


PERSON = {
    "national_id": "1101700207030",
    "first_name_th": "สมชาย",
    "last_name_th": "ใจดี",
    "address": {"province_code": "10"},
}


@pytest.mark.parametrize("value", [{}, [], False, 0, 1.5])
def test_a_birth_date_must_be_a_date(value: object) -> None:
    assert fields_at_fault(PersonIn, {**PERSON, "birth_date": value}) == {"birth_date"}


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\ufeff", "\u2066", "\x00", "\u00ad"])
def test_invisible_and_control_characters_in_names_are_refused(char: str) -> None:
    copy = {**PERSON, "first_name_th": f"สม{char}ชาย"}
    assert fields_at_fault(PersonIn, copy) == {"first_name_th"}
    assert fields_at_fault(PersonIn, {**PERSON, "address": {"province_code": "10", "street": char}})


def test_text_is_normalised_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë")
    assert decomposed != "Zoë"
    person = PersonIn.model_validate({**PERSON, "first_name_en": decomposed})
    assert person.first_name_en == "Zoë"

    class Note(BaseModel):
        text: Text

    assert Note(text=decomposed).text == "Zoë"
    assert Note(text="two\nlines\tok").text == "two\nlines\tok"


def test_ints_are_bounded_and_not_bools() -> None:
    assert fields_at_fault(Rules, {"sla_days": False}) == {"sla_days"}
    assert fields_at_fault(Rules, {"min_level": True}) == {"min_level"}
    assert fields_at_fault(HouseholdIn, {"province_code": "10", "monthly_income": 2**63}) == {
        "monthly_income"
    }
    assert fields_at_fault(HouseholdIn, {"province_code": "10", "monthly_income": True}) == {
        "monthly_income"
    }
    big = {"amount": MAX_MONEY + 1, "disbursed_on": "2026-01-01"}
    assert fields_at_fault(DisbursementIn, big) == {"amount"}
    # The CSV import validates text cells with the same model.
    assert HouseholdIn.model_validate({"province_code": "10", "monthly_income": "5000"})


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_dates_outside_the_window_are_refused(day: str) -> None:
    class Day(Input):
        on: SafeDate

    with pytest.raises(ValidationError, match="year must be between"):
        Day.model_validate({"on": day})
    cohort = {
        "code": "c",
        "course_code": "k",
        "venue": {"kind": "estate", "code": "e"},
        "capacity": 1,
    }
    assert fields_at_fault(CohortIn, {**cohort, "starts_on": day}) == {"starts_on"}


def test_datetimes_at_the_calendar_edge_are_refused_before_any_conversion() -> None:
    class At(Input):
        at: SafeDateTime

    assert fields_at_fault(ConsentIn, {"expires_at": "9999-12-31T23:00:00-14:00"}) == {"expires_at"}
    assert fields_at_fault(At, {"at": "2027-01-01T00:00:00"}) == {"at"}  # no timezone
    assert fields_at_fault(At, {"at": 0}) == {"at"}
    assert At.model_validate({"at": "2027-01-01T00:00:00+07:00"}).at.year == 2027
