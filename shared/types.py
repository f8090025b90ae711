"""Bounded input types for request bodies and parameters, shared by every service.

Unbounded ints overflowed the databases' BIGINT (500s), dates at the calendar's edge
overflowed on conversion to UTC, JSON `false` was taken as 0, and invisible characters
defeated duplicate matching. Every field a client sends is one of these, so each of those
is a 422 naming the field instead.

The constraints are `annotated_types` metadata (not `Field`), so the same type works in a
body model and as a FastAPI `Query`/`Path` parameter.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Self

from annotated_types import Interval
from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, field_validator

MAX_ID = 2**31 - 1  # row ids, line numbers, versions: PostgreSQL INTEGER
MAX_OFFSET = 10_000_000  # paging offsets: far more rows than any page walk reaches
MAX_MONEY = 1_000_000_000  # THB; above any loan or monthly income this system handles
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
# Kept in text: tab and line breaks (free-text notes may have them); other controls are not.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _int_only(value: Any) -> Any:
    # JSON true/false are Python bools, which pydantic's lax mode takes as 1/0.
    if isinstance(value, bool):
        raise ValueError("a whole number, not true/false")
    return value


# Parameters: `offset: Offset = 0`. (FastAPI drops a plain type's bounds given `= Query()`.)
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="the last id of the previous page")]
Version = Annotated[int, Path(ge=1, le=MAX_ID, description="a rule version")]
# Whole THB; the registry's CSV import validates text cells with the same models.
Money = Annotated[int, BeforeValidator(_int_only), Interval(ge=0, le=MAX_MONEY)]


def date_as_text(value: Any) -> Any:
    # Pydantic takes numbers as Unix timestamps (0 -> 1970-01-01); a date is text here.
    if isinstance(value, bool | int | float | dict | list):
        raise ValueError("a date as YYYY-MM-DD")
    return value


def _in_window(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _datetime_in_window(value: datetime) -> datetime:
    # Checked on the date as given, before any conversion: 9999-12-31T23:00-14:00 would
    # overflow on the way to UTC.
    _in_window(value.date())
    if value.tzinfo is None:
        raise ValueError("give a timezone, e.g. 2027-01-01T00:00:00+07:00")
    return value


SafeDate = Annotated[date, BeforeValidator(date_as_text), AfterValidator(_in_window)]
SafeDateTime = Annotated[
    datetime, BeforeValidator(date_as_text), AfterValidator(_datetime_in_window)
]


def clean_text(value: str) -> str:
    """NFC, with invisible and bidirectional formatting characters refused: they make two
    names look alike that compare different (U+200B, U+202E, U+FEFF, ...)."""
    for char in value:
        kind = unicodedata.category(char)
        if kind == "Cf" or (kind == "Cc" and char not in _ALLOWED_CONTROLS):
            raise ValueError(
                f"contains an invisible or control character U+{ord(char):04X}; remove it"
            )
    return unicodedata.normalize("NFC", value)


Text = Annotated[str, AfterValidator(clean_text)]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_text(v) if isinstance(v, str) else v for v in value]
    return value


class Input(BaseModel):
    """Base of request bodies: unknown fields refused, whitespace stripped, and every text
    field (and list of texts) NFC with no invisible characters, whatever its declared type."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _clean(value)


class Output(BaseModel):
    """Base of response models that are a table row's columns (or some of them): `of(row)`
    reads each field off the row's attributes."""

    @classmethod
    def of(cls, row: object) -> Self:
        return cls.model_validate(row, from_attributes=True)


__all__ = [
    "MAX_ID",
    "MAX_MONEY",
    "MAX_OFFSET",
    "After",
    "Input",
    "Money",
    "Offset",
    "Output",
    "SafeDate",
    "SafeDateTime",
    "Text",
    "Version",
    "clean_text",
]
