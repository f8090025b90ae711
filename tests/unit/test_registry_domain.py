"""Registry rules: dates in either calendar, income bands, request validation."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.registry import domain
from services.registry.schemas import ConsentIn, PersonIn
from shared.errors import DomainError

EDGES = [0, 2_000, 4_000, 10_000]
TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1987-05-12", date(1987, 5, 12)),
        ("2530-05-12", date(1987, 5, 12)),  # Buddhist Era year
        ("12/05/2530", date(1987, 5, 12)),  # Thai day/month/year form
        ("12/05/1987", date(1987, 5, 12)),
        ("2543-02-29", date(2000, 2, 29)),  # 2000 was a leap year in either calendar
    ],
)
def test_birth_date_accepts_gregorian_and_buddhist_era(given: str, expected: date) -> None:
    assert domain.birth_date(given, today=TODAY) == expected


@pytest.mark.parametrize(
    "given", ["2530-13-01", "31/02/2530", "yesterday", "2570-01-01", "1850-01-01"]
)
def test_birth_date_rejects_impossible_or_implausible(given: str) -> None:
    with pytest.raises(DomainError) as error:
        domain.birth_date(given, today=TODAY)
    assert error.value.field == "birth_date"


def test_income_bands_sort_like_incomes_and_hide_the_amount() -> None:
    assert domain.income_band(0, EDGES) == domain.IncomeBand("B01", 0, 2_000)
    assert domain.income_band(1_999, EDGES).label == "B01"
    assert domain.income_band(2_000, EDGES) == domain.IncomeBand("B02", 2_000, 4_000)
    assert domain.income_band(250_000, EDGES) == domain.IncomeBand("B04", 10_000, None)
    labels = [domain.income_band(n, EDGES).label for n in range(0, 20_000, 500)]
    assert labels == sorted(labels)
    with pytest.raises(DomainError):
        domain.income_band(-1, EDGES)


def test_low_income_is_strictly_below_the_threshold() -> None:
    assert domain.is_low_income(9_999, 10_000)
    assert not domain.is_low_income(10_000, 10_000)


def test_person_request_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationError) as error:
        PersonIn.model_validate(
            {
                "national_id": "1101700207031",
                "first_name_th": "",
                "last_name_th": "ทดสอบ",
                "birth_date": "2530-13-01",
                "sex": "x",
                "phone": "12",
                "address": {"province_code": "1"},
                "consents": [{"purpose": "marketing", "data_categories": ["dna"]}],
            }
        )
    fields = {".".join(map(str, e["loc"])) for e in error.value.errors()}
    assert fields == {
        "national_id",
        "first_name_th",
        "birth_date",
        "sex",
        "phone",
        "address.province_code",
        "consents.0.purpose",
        "consents.0.data_categories",
    }


def test_person_request_normalises_id_and_date() -> None:
    person = PersonIn.model_validate(
        {
            "national_id": "1-1017-00207-03-0",
            "first_name_th": " สมหญิง ",
            "last_name_th": "ทดสอบ",
            "birth_date": "12/05/2530",
            "address": {"province_code": "10"},
        }
    )
    assert person.national_id == "1101700207030"
    assert person.first_name_th == "สมหญิง"
    assert person.birth_date == date(1987, 5, 12)


def test_consent_expiry_needs_a_timezone() -> None:
    with pytest.raises(ValidationError):
        ConsentIn.model_validate({"expires_at": "2027-01-01T00:00:00"})
    assert ConsentIn.model_validate(
        {"data_categories": ["contact", "contact"]}
    ).data_categories == ["contact"]
