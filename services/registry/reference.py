"""Reference data shipped with the registry: provinces, estates, centre types, seed organisations.

Read once from the CSV files in `data/` next to this module (UTF-8). Province codes are
the official two-digit codes (TIS 1099, as in Thai national IDs; the numeric part of
ISO 3166-2:TH). Everything else comes from DOMAIN.md and its source documents.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import TypeVar

from services.registry import domain
from shared.errors import DomainError

REGIONS = frozenset({"north", "northeast", "central", "east", "west", "south"})


@dataclass(frozen=True)
class Province:
    code: str
    name_en: str
    name_th: str
    region: str  # the six geographic regions (National Geographical Committee, 1977)


@dataclass(frozen=True)
class Estate:
    """An industrial estate of the IEAT "Weave Dreams, Build Careers" programme."""

    code: str
    name_en: str
    name_th: str | None
    province_code: str
    pilot_year: int


@dataclass(frozen=True)
class CentreType:
    """A kind of learning centre; counts are as reported in the sources (None: not given)."""

    code: str
    name_en: str
    name_th: str
    operator: str  # organisation code of the body that runs them
    reported_count: int | None
    reported_provinces: int | None


@dataclass(frozen=True)
class SeedOrganisation:
    code: str
    kind: str
    name_en: str
    name_th: str


_T = TypeVar("_T", Province, Estate, CentreType, SeedOrganisation)


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("services.registry").joinpath("data", name).read_text("utf-8")
    return [{k: v.strip() for k, v in row.items()} for row in csv.DictReader(text.splitlines())]


def _int(value: str) -> int | None:
    return int(value) if value else None


def _by_code(items: list[_T]) -> Mapping[str, _T]:
    table = {item.code: item for item in items}
    if len(table) != len(items):
        raise ValueError("duplicate codes in the registry's reference data")
    return MappingProxyType(table)


def _load_provinces() -> Mapping[str, Province]:
    provinces = _by_code([Province(**row) for row in _rows("provinces.csv")])
    bad = [p.code for p in provinces.values() if p.region not in REGIONS]
    if bad:
        raise ValueError(f"provinces with an unknown region: {bad}")
    return provinces


def _load_estates() -> Mapping[str, Estate]:
    estates = _by_code(
        [
            Estate(
                code=row["code"],
                name_en=row["name_en"],
                name_th=row["name_th"] or None,
                province_code=row["province_code"],
                pilot_year=int(row["pilot_year"]),
            )
            for row in _rows("estates.csv")
        ]
    )
    bad = [e.code for e in estates.values() if e.province_code not in PROVINCES]
    if bad:
        raise ValueError(f"estates in unknown provinces: {bad}")
    return estates


def _load_centre_types() -> Mapping[str, CentreType]:
    return _by_code(
        [
            CentreType(
                code=row["code"],
                name_en=row["name_en"],
                name_th=row["name_th"],
                operator=row["operator"],
                reported_count=_int(row["reported_count"]),
                reported_provinces=_int(row["reported_provinces"]),
            )
            for row in _rows("centre_types.csv")
        ]
    )


def _load_organisations() -> Mapping[str, SeedOrganisation]:
    organisations = _by_code([SeedOrganisation(**row) for row in _rows("organisations.csv")])
    bad = [o.code for o in organisations.values() if o.kind not in domain.ORGANISATION_KINDS]
    if bad:
        raise ValueError(f"seed organisations of an unknown kind: {bad}")
    return organisations


PROVINCES: Mapping[str, Province] = _load_provinces()
ESTATES: Mapping[str, Estate] = _load_estates()
CENTRE_TYPES: Mapping[str, CentreType] = _load_centre_types()
SEED_ORGANISATIONS: Mapping[str, SeedOrganisation] = _load_organisations()


def is_province(code: str) -> bool:
    return code in PROVINCES


def is_centre_type(code: str) -> bool:
    return code in CENTRE_TYPES


def check_province(code: str, *, field: str = "province_code") -> None:
    if not is_province(code):
        raise DomainError(f"unknown province code {code!r}", field=field)


def check_centre_type(code: str) -> None:
    if not is_centre_type(code):
        raise DomainError(
            f"unknown centre type {code!r}; expected one of {sorted(CENTRE_TYPES)}",
            field="centre_type",
        )
