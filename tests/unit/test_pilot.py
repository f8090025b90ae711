"""The 2019 pilot seed scenario is valid, deterministic and exercises every branch."""

from __future__ import annotations

import dataclasses
import datetime

from stdnum.th import pin

from deploy.scenarios.pilot import (
    ESTATES_2019,
    OCCUPATIONS_2019,
    PRODUCTS_2019,
    PRODUCTS_SUPHAN_BURI,
    LenderProduct,
    Scenario,
    Trainee,
    combined,
    expected_referrals,
    funnel_expectation,
    ieat_2019_pilot,
    suphan_buri_beauticians,
)
from deploy.scenarios.seed import cohort_dates
from services.funding.handlers.catalogue import load_seed

SCENARIO = ieat_2019_pilot()
YEAR = datetime.date.today().year


def _product(scenario: Scenario, code: str) -> LenderProduct:
    return next(p for p in scenario.products if p.product_code == code)


def _certified_and_consenting(t: Trainee) -> bool:
    return t.consents_to_lenders and t.completes and t.passes


def _of_age(t: Trainee, p: LenderProduct) -> bool:
    assert p.min_age is not None and p.max_age is not None
    return p.min_age <= YEAR - t.birth_date.year <= p.max_age


def _fits(t: Trainee, p: LenderProduct) -> bool:
    assert p.occupations is not None
    return t.occupation in p.occupations and t.level >= p.min_level and _of_age(t, p)


def _recompute(scenario: Scenario) -> set[tuple[str, str]]:
    return {
        (t.national_id, p.product_code)
        for t in scenario.trainees
        for p in scenario.products
        if _certified_and_consenting(t) and _fits(t, p)
    }


def test_pilot_products_restate_the_funding_seed_catalogue() -> None:
    seeded = {p["code"]: p for p in load_seed()["products"]}
    for product in PRODUCTS_2019 + PRODUCTS_SUPHAN_BURI:
        rules = seeded[product.product_code]["rules"]
        assert seeded[product.product_code]["lender_code"] == product.lender_code
        occupations = product.occupations and sorted(product.occupations)
        assert (rules["occupations"] and sorted(rules["occupations"])) == occupations
        assert rules["min_level"] == product.min_level
        assert (rules["age"]["min"], rules["age"]["max"]) == (product.min_age, product.max_age)
        assert rules.get("provinces") == (product.provinces and list(product.provinces))
        assert rules.get("max_income_band_ceiling") == product.max_income_band_ceiling


def test_programme_facts() -> None:
    assert SCENARIO.programme_code == "ieat-wdbc-2019"
    assert SCENARIO.year == 2019
    assert SCENARIO.target == 1000
    assert len(SCENARIO.trainees) == 1223


def test_national_ids_valid_and_unique() -> None:
    ids = [t.national_id for t in SCENARIO.trainees]
    assert all(len(i) == 13 and pin.is_valid(i) for i in ids)
    assert all(i[0] in "12345678" for i in ids)
    assert len(set(ids)) == len(ids)


def test_estates_and_occupations() -> None:
    assert len(SCENARIO.estates) == 10
    assert len({e.code for e in SCENARIO.estates}) == 10
    assert len(SCENARIO.occupations) == 7
    assert SCENARIO.occupations == OCCUPATIONS_2019
    provinces = {e.code: e.province_code for e in ESTATES_2019}
    assert provinces["bang-poo"] == provinces["bang-plee"] == "11"
    assert provinces["lat-krabang"] == provinces["bang-chan"] == "10"
    assert provinces["amata-city-chonburi"] == "20"
    assert {t.estate_code for t in SCENARIO.trainees} == set(provinces)
    assert {t.occupation for t in SCENARIO.trainees} == set(OCCUPATIONS_2019)
    assert all(t.province_code == provinces[t.estate_code] for t in SCENARIO.trainees)
    product_occupations = {o for p in SCENARIO.products for o in p.occupations}
    assert product_occupations <= set(OCCUPATIONS_2019)


def test_people_are_thai_named_and_of_target_age() -> None:
    def thai(s: str) -> bool:
        return bool(s) and all("\u0e00" <= c <= "\u0e7f" for c in s)

    assert all(thai(t.first_name) and thai(t.last_name) for t in SCENARIO.trainees)
    assert len({t.first_name for t in SCENARIO.trainees}) >= 40
    assert len({t.last_name for t in SCENARIO.trainees}) >= 40

    def age(born: datetime.date, on: datetime.date) -> int:
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    for t in SCENARIO.trainees:
        assert age(t.birth_date, datetime.date(2019, 1, 1)) >= 18
        assert age(t.birth_date, datetime.date(2019, 12, 31)) <= 70
    assert any(age(t.birth_date, datetime.date(2019, 6, 30)) >= 60 for t in SCENARIO.trainees)


def test_deterministic_per_seed() -> None:
    assert ieat_2019_pilot() == SCENARIO
    assert ieat_2019_pilot(seed=7, size=50) == ieat_2019_pilot(seed=7, size=50)
    other = ieat_2019_pilot(seed=2020)
    assert {t.national_id for t in other.trainees} != {t.national_id for t in SCENARIO.trainees}


def test_outcome_branches_all_occur() -> None:
    ts = SCENARIO.trainees
    assert any(not t.completes for t in ts)
    assert any(t.completes and not t.passes for t in ts)
    assert any(not t.consents_to_lenders for t in ts)
    assert not any(t.passes and not t.completes for t in ts)
    assert {t.level for t in ts} == {1, 2}


def test_expected_referrals_match_recomputation() -> None:
    assert expected_referrals(SCENARIO) == _recompute(SCENARIO)
    assert expected_referrals(SCENARIO)


def test_each_product_excludes_each_reason() -> None:
    referrals = expected_referrals(SCENARIO)
    ts = SCENARIO.trainees
    for product in SCENARIO.products:
        code = product.product_code
        assert product.occupations is not None
        qualifies = [t for t in ts if _fits(t, product)]
        referred = [t for t in qualifies if _certified_and_consenting(t)]
        assert referred
        assert all((t.national_id, code) in referrals for t in referred)

        wrong_occupation = [
            t
            for t in ts
            if _certified_and_consenting(t) and t.occupation not in product.occupations
        ]
        too_old = [
            t
            for t in ts
            if _certified_and_consenting(t)
            and t.occupation in product.occupations
            and t.level >= product.min_level
            and not _of_age(t, product)
        ]
        assert too_old
        assert all((t.national_id, code) not in referrals for t in too_old)
        assert wrong_occupation
        assert all((t.national_id, code) not in referrals for t in wrong_occupation)

        no_consent = [t for t in qualifies if t.passes and not t.consents_to_lenders]
        assert no_consent
        assert all((t.national_id, code) not in referrals for t in no_consent)

        if product.min_level > 1:
            too_low = [
                t
                for t in ts
                if _certified_and_consenting(t)
                and t.occupation in product.occupations
                and t.level < product.min_level
                and _of_age(t, product)
            ]
            assert too_low
            assert all((t.national_id, code) not in referrals for t in too_low)

    # gsb accepts level 1; smed and tcg need level 2.
    assert _product(SCENARIO, "gsb-occupation-loan").min_level == 1
    assert _product(SCENARIO, "smed-startup-loan").min_level == 2
    assert _product(SCENARIO, "tcg-micro-guarantee").min_level == 2


def test_funnel_is_consistent() -> None:
    f = funnel_expectation(SCENARIO)
    ts = SCENARIO.trainees
    assert f["registered"] == f["enrolled"] == 1223
    assert f["completed"] + f["not_completed"] == f["enrolled"]
    assert f["certified"] + f["failed_assessment"] == f["completed"]
    assert f["consented"] == sum(t.consents_to_lenders for t in ts)
    assert f["certified"] == sum(t.passes for t in ts)
    assert f["referrals"] == len(expected_referrals(SCENARIO))
    assert 0 < f["referred_people"] <= f["referrals"]
    assert f["referred_people"] <= min(f["certified"], f["consented"])
    assert all(v > 0 for v in f.values())


def test_rates_roughly_as_documented() -> None:
    ts = SCENARIO.trainees
    completers = [t for t in ts if t.completes]
    passers = [t for t in ts if t.passes]
    assert 0.80 <= sum(t.consents_to_lenders for t in ts) / len(ts) <= 0.90
    assert 0.90 <= len(completers) / len(ts) <= 0.98
    assert 0.83 <= len(passers) / len(completers) <= 0.93
    assert 0.52 <= sum(t.level == 1 for t in passers) / len(passers) <= 0.68


def test_small_and_empty_sizes() -> None:
    assert ieat_2019_pilot(size=0).trainees == ()
    small = ieat_2019_pilot(size=70)
    assert len({t.estate_code for t in small.trainees}) == 10
    assert len({t.occupation for t in small.trainees}) == 7


def test_two_programmes_combined_for_one_stack() -> None:
    ieat, suphan = ieat_2019_pilot(size=300), suphan_buri_beauticians()
    both = combined([ieat, suphan])
    assert both.target == ieat.target + suphan.target
    assert len(both.trainees) == len(ieat.trainees) + len(suphan.trainees)
    assert {p.product_code for p in both.products} == {
        p.product_code for p in (*ieat.products, *suphan.products)
    }
    # Every trainee meets every live product, as in the funding service; no IEAT trainee
    # fits a Suphan Buri product (no beauticians, no income on record) and vice versa, so
    # the whole is the sum of its parts, and both of Suphan Buri's products are reached.
    referrals = expected_referrals(both)
    assert referrals == expected_referrals(ieat) | expected_referrals(suphan)
    assert {p for _, p in expected_referrals(suphan)} == {
        "gsb-beautician-suphanburi",
        "village-fund-community-loan",
    }
    total = funnel_expectation(both)
    assert total["registered"] == len(both.trainees)
    assert total["referrals"] == len(referrals)
    assert suphan.owner.code == "pao-suphanburi" and ieat.owner.code == "ieat"


def test_seeded_cohorts_have_ended_before_the_seeder_closes_them() -> None:
    """Training takes attendance and closes a cohort only once its days have come."""
    scenario = ieat_2019_pilot(size=10)
    assert cohort_dates(scenario, datetime.date(2026, 11, 28))[0] == datetime.date(2019, 6, 3)
    this_year = dataclasses.replace(scenario, year=2026)
    dates = cohort_dates(this_year, datetime.date(2026, 3, 1))  # June 2026 still ahead
    assert dates[-1] < datetime.date(2026, 3, 1) and len(dates) == 5
