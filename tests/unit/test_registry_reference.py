"""The registry's shipped reference data: provinces, estates, centre types, organisations."""

from __future__ import annotations

import re

import pytest

from deploy.scenarios.pilot import ESTATES_2019
from services.registry import domain, reference
from services.registry.domain import check_village_team
from shared.errors import Conflict


def test_77_provinces_with_the_iso_3166_2_th_numeric_codes() -> None:
    pycountry = pytest.importorskip("pycountry")
    official = {
        s.code.removeprefix("TH-")
        for s in pycountry.subdivisions.get(country_code="TH")
        # 76 provinces and Bangkok have numeric codes; Pattaya (TH-S) is not a province.
        if s.code.removeprefix("TH-").isdigit()
    }
    assert len(official) == 77
    assert set(reference.PROVINCES) == official
    assert reference.PROVINCES["10"].name_en == "Bangkok"
    assert reference.PROVINCES["38"].name_en == "Bueng Kan"
    assert reference.PROVINCES["96"].name_th == "นราธิวาส"
    assert reference.PROVINCES["72"].name_th == "สุพรรณบุรี"  # the Suphan Buri model


def test_english_names_follow_iso_3166_2_th() -> None:
    pycountry = pytest.importorskip("pycountry")
    iso = {
        s.code.removeprefix("TH-"): s.name for s in pycountry.subdivisions.get(country_code="TH")
    }
    differ = {
        code: (p.name_en, iso[code])
        for code, p in reference.PROVINCES.items()
        if p.name_en != iso[code]
    }
    assert differ == {"10": ("Bangkok", "Krung Thep Maha Nakhon")}


def test_every_province_has_a_thai_name_and_one_of_six_regions() -> None:
    thai = re.compile(r"^[\u0E00-\u0E7F]+$")
    names = [p.name_th for p in reference.PROVINCES.values()]
    assert all(thai.match(n) for n in names)
    assert len(set(names)) == 77
    counts = {r: 0 for r in reference.REGIONS}
    for province in reference.PROVINCES.values():
        counts[province.region] += 1
    assert counts == {
        "north": 9,
        "northeast": 20,
        "central": 22,
        "east": 7,
        "west": 5,
        "south": 14,
    }
    assert reference.is_province("34") and not reference.is_province("99")


def test_19_estates_in_known_provinces() -> None:
    estates = reference.ESTATES
    assert len(estates) == 19
    assert sum(e.pilot_year == 2019 for e in estates.values()) == 10
    assert sum(e.pilot_year == 2020 for e in estates.values()) == 9
    assert all(reference.is_province(e.province_code) for e in estates.values())
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]{1,31}", code) for code in estates)


def test_estate_codes_and_provinces_match_the_pilot_scenario() -> None:
    for pilot in ESTATES_2019:
        estate = reference.ESTATES[pilot.code]
        assert (estate.name_en, estate.province_code, estate.pilot_year) == (
            pilot.name,
            pilot.province_code,
            2019,
        )
    assert {e.code for e in reference.ESTATES.values() if e.pilot_year == 2019} == {
        e.code for e in ESTATES_2019
    }


def test_learning_centre_types_and_their_reported_numbers() -> None:
    types = reference.CENTRE_TYPES
    assert set(types) == {
        "brain-based-learning-playground",
        "edible-knowledge-centre",
        "tk-park",
        "learning-museum",
        "community-study-and-development-centre",
    }
    assert types["brain-based-learning-playground"].reported_count == 450
    assert types["tk-park"].reported_count == 31 and types["tk-park"].reported_provinces == 24
    assert types["community-study-and-development-centre"].reported_provinces is None


def test_seed_organisations() -> None:
    seeds = reference.SEED_ORGANISATIONS
    assert {code: o.kind for code, o in seeds.items()} == {
        "tpqi": "assessor",
        "ieat": "programme-owner",
        "cdd": "programme-owner",
        "sammachiv-foundation": "training-partner",
        "dsd": "training-partner",
        "fti": "training-partner",
        "gsb": "lender",
        "smed": "lender",
        "tcg": "lender",
        "village-fund": "fund",
    }
    assert all(o.kind in domain.ORGANISATION_KINDS for o in seeds.values())
    assert all(o.name_en and o.name_th for o in seeds.values())


def test_a_village_has_one_lead_and_at_most_four_members() -> None:
    check_village_team("lead", leads=0, members=4)
    check_village_team("member", leads=1, members=3)
    with pytest.raises(Conflict) as lead:
        check_village_team("lead", leads=1, members=0)
    assert lead.value.field == "role"
    with pytest.raises(Conflict) as full:
        check_village_team("member", leads=1, members=4)
    assert full.value.field == "village_code"
